// The docs check (scripts/check-docs.mjs) against the real `moncam --help`: the repository's docs pass, and
// made-up commands, options, npm scripts and links in a temp doc set are each reported with file:line.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { tempDir } from '../helpers/setup.ts';

const ROOT = path.join(import.meta.dirname, '..', '..');
const SCRIPT = path.join(ROOT, 'scripts', 'check-docs.mjs');

function checkDocs(args: string[]) {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function write(root: string, files: Record<string, string>): void {
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), text);
  }
}

const FENCE = '```';

describe('scripts/check-docs.mjs', () => {
  test('the repository docs pass: every moncam command, npm script and relative link exists', () => {
    const r = checkDocs([]);
    assert.equal(r.stderr, '', r.stderr);
    assert.equal(r.code, 0);
    const m = /(\d+) files, (\d+) commands checked/.exec(r.stdout);
    assert.ok(m, r.stdout);
    assert.ok(Number(m[1]) >= 10, `only ${m[1]} files read`);
    assert.ok(Number(m[2]) >= 50, `only ${m[2]} commands found: the extraction lost them`);
  });

  test('made-up commands, options, scripts and links fail, each with its file and line', () => {
    const root = tempDir('moncam-docs-');
    write(root, {
      'package.json': JSON.stringify({ scripts: { test: 'x', start: 'y', docs: 'z' } }),
      'README.md': [
        '# Title', // 1
        '', // 2
        `${FENCE}sh`, // 3
        'npm install && npm start', // 4
        'moncam frobnicate', // 5
        'sudo -u moncam MONCAM_DATA_DIR=/x moncam passwd --mqtt   # fine', // 6
        'moncam capture --bogus', // 7
        'moncam capture --mqtt', // 8
        'npm run nope', // 9
        "echo 'a | b' | npx moncam passwd && moncam cert --host a --dir /tmp --force -c f.yaml", // 10
        'sudo moncam service install --user pi --print \\', // 11
        '  --unit-dir /tmp --force', // 12
        'node dist/bin.js config --reference --out x', // 13
        FENCE, // 14
        '', // 15
        'In prose: `moncam snapshot --now`, `moncam capture --out - | cat > x.jpg` and `npm run docs`.', // 16
        '', // 17
        `${FENCE}yaml`, // 18
        'moncam frobnicate   # not a shell block: not checked', // 19
        FENCE, // 20
        '', // 21
        '[ok](docs/a.md#real-heading) [gone](docs/missing.md) [no anchor](docs/a.md#not-a-heading) [self](#title)', // 22
        '![missing image](ui/none.png) <img src="docs/a.md"> [web](https://example.org/x) [bad self](#nowhere)', // 23
        '',
      ].join('\n'),
      // The grammar comes from the help text: an option of one command given to another is caught.
      'docs/a.md': [
        '# A', // 1
        '', // 2
        '## Real heading', // 3
        '', // 4
        `${FENCE}yaml`, // 5
        '# Not a heading', // 6
        FENCE, // 7
        '', // 8
        'Run `moncam passwd --mqtt` or `moncam cert --bogus`.', // 9
        `${FENCE}console`, // 10
        '$ moncam passwd --reference', // 11
        'moncam frobnicate (output, not a command)', // 12
        '$ moncam mqtt', // 13
        '$ moncam service install --host x', // 14
        FENCE, // 15
        '',
      ].join('\n'),
    });
    const r = checkDocs(['--root', root, 'README.md', 'docs/a.md']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const problems = r.stderr
      .trim()
      .split('\n')
      .map((l) => l.replace(/^check-docs: /, '').replace(/ \(in: .*\)$/, ''));
    assert.deepEqual(problems.sort(), [
      'README.md:13: unknown option --out for "moncam config"',
      'README.md:16: unknown command "moncam snapshot"',
      'README.md:22: link to a missing file: docs/missing.md',
      'README.md:22: link to a missing heading: docs/a.md#not-a-heading',
      'README.md:23: link to a missing file: ui/none.png',
      'README.md:23: link to a missing heading: #nowhere',
      'README.md:5: unknown command "moncam frobnicate"',
      'README.md:7: unknown option --bogus for "moncam capture"',
      'README.md:8: unknown option --mqtt for "moncam capture"',
      'README.md:9: npm script "nope" is not in package.json',
      'docs/a.md:11: unknown option --reference for "moncam passwd"',
      'docs/a.md:13: unknown command "moncam mqtt"',
      'docs/a.md:14: unknown option --host for "moncam service install"',
      'docs/a.md:9: unknown option --bogus for "moncam cert"',
    ]);
    assert.match(r.stdout, /2 files, \d+ commands checked/);
  });
});
