// Mistakes a new user makes on the command line and in moncam.yaml: each is one plain line on stderr and
// exit code 2 (systemd's RestartPreventExitStatus=2 stops a restart loop on a bad config).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { moncam } from '../helpers/cli.ts';
import { tempDir } from '../helpers/setup.ts';

function oneLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `one line, got:\n${stderr}`);
  return lines[0]!;
}

async function withYaml(yaml: string, env: Record<string, string> = {}) {
  const cwd = tempDir();
  fs.writeFileSync(path.join(cwd, 'moncam.yaml'), yaml);
  return { cwd, r: await moncam(['config'], { cwd, env }) };
}

describe('CLI errors', () => {
  test('an unknown option: one line naming it, with the --help hint (no parser text, no usage dump)', async () => {
    const r = await moncam(['capture', '--bogus'], { cwd: tempDir() });
    assert.equal(r.code, 2);
    assert.equal(oneLine(r.stderr), 'moncam: unknown option --bogus (see moncam --help)');
    assert.equal(r.stdout, '');
  });

  test('an option without its value, a value on a flag, an unknown command', async () => {
    const cwd = tempDir();
    const [noValue, flagValue, command] = await Promise.all([
      moncam(['capture', '--out'], { cwd }),
      moncam(['--help=yes'], { cwd }),
      moncam(['frobnicate'], { cwd }),
    ]);
    assert.equal(noValue.code, 2);
    assert.equal(oneLine(noValue.stderr), 'moncam: --out needs a value (see moncam --help)');
    assert.equal(flagValue.code, 2);
    assert.equal(oneLine(flagValue.stderr), 'moncam: --help takes no value (see moncam --help)');
    assert.equal(command.code, 2);
    assert.equal(oneLine(command.stderr), 'moncam: unknown command "frobnicate" (see moncam --help)');
  });

  test('bad YAML: file:line:col and the reason, no dangling ":"', async () => {
    const { cwd, r } = await withYaml('web:\n  port: [1\n');
    assert.equal(r.code, 2);
    const line = oneLine(r.stderr);
    assert.ok(line.startsWith(`moncam: bad configuration: ${path.join(cwd, 'moncam.yaml')}:3:1: `), line);
    assert.doesNotMatch(line, /:\s*$/);
  });

  test('a bad boolean lists the accepted values (YAML and environment)', async () => {
    const { r } = await withYaml('mqtt:\n  discovery: maybe\n');
    assert.equal(r.code, 2);
    assert.equal(oneLine(r.stderr), 'moncam: bad configuration: mqtt.discovery: expected true or false, got "maybe" (from moncam.yaml)');
    const env = await moncam(['config'], { cwd: tempDir(), env: { MONCAM_WEB_FRESH_ON_VISIT: 'sometimes' } });
    assert.equal(env.code, 2);
    assert.equal(
      oneLine(env.stderr),
      'moncam: bad configuration: web.fresh_on_visit: expected true or false (also yes/no, on/off, 1/0), got "sometimes" (from MONCAM_WEB_FRESH_ON_VISIT)',
    );
  });

  test('an alias to no anchor exits 2 with its position', async () => {
    const { cwd, r } = await withYaml('web:\n  port: *nope\n');
    assert.equal(r.code, 2, r.stderr);
    assert.equal(oneLine(r.stderr), `moncam: bad configuration: ${path.join(cwd, 'moncam.yaml')}:2:9: alias *nope refers to no anchor &nope before it`);
  });

  test('a YAML alias bomb is refused quickly with exit 2, for `config` and for `run`', async () => {
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 9; i++)
      levels.push(
        `${'abcdefghi'[i]}: &${'abcdefghi'[i]} [${Array(9)
          .fill(`*${'abcdefghi'[i - 1]}`)
          .join(',')}]`,
      );
    const yaml = levels.join('\n') + '\n'; // 9^9 = 387 million strings once expanded
    const { cwd, r } = await withYaml(yaml);
    assert.equal(r.code, 2, r.stderr);
    assert.match(oneLine(r.stderr), /^moncam: bad configuration: .*moncam\.yaml: too many alias expansions \(more than 100\)/);
    const run = await moncam(['run'], { cwd });
    assert.equal(run.code, 2, run.stderr);
    oneLine(run.stderr);
  });

  test('a few ordinary aliases still work', async () => {
    const { r } = await withYaml('web:\n  port: &p 5055\nbroker:\n  port: *p\n');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /port: 5055[\s\S]*port: 5055/);
  });
});
