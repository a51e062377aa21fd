#!/usr/bin/env node
// The docs check: every command a reader may copy from the docs must exist. It reads the shell blocks and
// inline code of the Markdown files, and fails on
//   - a `moncam` subcommand or option that `moncam --help` (or `moncam <command> --help`) does not list,
//   - an `npm run X` / `npm test` / `npm start` whose script is not in package.json,
//   - a relative link or image whose file, or whose #anchor, does not exist.
// The grammar comes from the help text the CLI prints, so the help and the docs cannot drift apart.
// Usage: node scripts/check-docs.mjs [--root DIR] [--list] [FILE.md ...]   (default: the repository's docs;
// --list prints every command it checked)
// Plain JS so it runs without a build; the CLI itself runs from src/ through tsx.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const REPO = path.resolve(import.meta.dirname, '..');
const SHELL_LANGS = new Set(['sh', 'bash', 'shell', 'console', 'zsh']);
const run = promisify(execFile);

// ---- the grammar, from the help text ----

/**
 * `moncam --help`, and `moncam <command> --help` for each command the main help points to for its options
 * ("see moncam cert --help"), as printed by the CLI in src/. (Asking every command costs a second each.)
 */
async function helpTexts() {
  const cli = (args) =>
    run(process.execPath, ['--import', 'tsx', path.join(REPO, 'src', 'bin.ts'), ...args], { cwd: REPO, env: { ...process.env, NO_COLOR: '1' } }).then(
      (r) => r.stdout,
    );
  const global = await cli(['--help']);
  const known = new Set(
    commandSynopses(global)
      .map((c) => c.words)
      .filter(Boolean),
  );
  const commands = [...new Set([...global.matchAll(/moncam ([a-z][a-z ]*?) --help/g)].map((m) => m[1]))].filter((c) => known.has(c));
  const own = new Map();
  await Promise.all(
    commands.map(async (c) => {
      const text = await cli([...c.split(' '), '--help']);
      if (text !== global) own.set(c, text);
    }),
  );
  return { global, own };
}

/** Synopsis lines (`  moncam capture [--out FILE]   take ...`): their command words and the rest. */
function commandSynopses(help) {
  const out = [];
  for (const line of help.split('\n')) {
    const m = /^\s*(?:Usage:\s*)?moncam\b(.*)$/.exec(line);
    if (!m) continue;
    const synopsis = m[1].split(/\s{2,}/).filter(Boolean)[0] ?? '';
    const words = [];
    let optionalWord = false;
    for (const t of synopsis.trim().split(/\s+/).filter(Boolean)) {
      const w = /^(\[?)([a-z][a-z-]*)\]?$/.exec(t);
      if (!w) break;
      if (w[1]) optionalWord = true; // `moncam [run]`: plain `moncam` runs it too
      words.push(w[2]);
    }
    out.push({ words: words.join(' '), synopsis, optionalWord });
  }
  return out;
}

/** Options named in a text: `--out FILE`, `[--host NAME]...`, `-c, --config FILE`, `-c FILE`. */
function optionsIn(text, into, aliases) {
  for (const m of text.matchAll(/(?:^|[\s[|])(-[a-zA-Z]),\s+(--[a-z][\w-]*)(?:[ =]([A-Z][A-Z_]*))?/g)) {
    into.set(m[2], Boolean(m[3]));
    into.set(m[1], Boolean(m[3]));
    aliases.set(m[1], m[2]);
  }
  for (const m of text.matchAll(/(?:^|[\s[|])(--?[a-z][\w-]*)(?:[ =]([A-Z][A-Z_]*))?(?=[\]\s.|]|$)/g)) {
    if (!into.has(m[1])) into.set(m[1], Boolean(m[2]));
  }
}

/**
 * The grammar: commands (words -> options, each `true` when it takes a value) and global options.
 * Option lines count for the section they stand in: `Options:` is global, a header that starts with a
 * command's words (`service install (...)`, `Usage: moncam cert ...`) belongs to that command.
 */
export function grammarFromHelp(global, own = new Map()) {
  const aliases = new Map();
  const commands = new Map();
  const globalOptions = new Map();
  for (const { words, synopsis, optionalWord } of commandSynopses(global)) {
    if (!words) {
      optionsIn(synopsis, globalOptions, aliases); // `moncam --help | --version`
      continue;
    }
    const cmd = commands.get(words) ?? { options: new Map(), own: false };
    optionsIn(synopsis, cmd.options, aliases);
    commands.set(words, cmd);
    if (optionalWord) commands.set('', cmd);
  }
  const sections = (text, initial) => {
    let current = initial;
    let previous = '';
    for (const line of text.split('\n')) {
      const continued = /^\S/.test(previous); // a header that wraps onto a second line
      previous = line;
      if (/^\S/.test(line)) {
        if (continued) continue;
        const header = line.replace(/^Usage:\s*/, '').replace(/^moncam\s+/, '');
        if (/^Options:/.test(line)) current = 'global';
        else current = [...commands.keys()].filter((w) => w && (header === w || header.startsWith(`${w} `))).sort((x, y) => y.length - x.length)[0] ?? null;
        if (current && current !== 'global') optionsIn(header.slice(current.length), commands.get(current).options, aliases);
        continue;
      }
      if (!current || !/^\s{1,4}-/.test(line)) continue;
      const head = line.trim().split(/\s{2,}/)[0];
      optionsIn(head, current === 'global' ? globalOptions : commands.get(current).options, aliases);
    }
  };
  sections(global, null);
  for (const [words, text] of own) {
    const cmd = commands.get(words);
    if (!cmd) continue;
    cmd.own = true;
    cmd.options = new Map([['--help', false]]);
    sections(text, words);
  }
  // A short option a command lists means what it means everywhere (`-c` is `--config`).
  for (const cmd of commands.values()) {
    for (const [short, long] of aliases) if (cmd.options.has(short) && !cmd.options.has(long)) cmd.options.set(long, cmd.options.get(short));
  }
  return { commands, globalOptions };
}

/** Problems of one `moncam` argv against the grammar. */
export function checkMoncam(argv, grammar) {
  const words = [];
  const options = [];
  for (let i = 0; i < argv.length; i++) {
    const t = argv[i];
    if (t === '--') break;
    if (/^-./.test(t)) {
      const [name, inline] = t.startsWith('--') ? [t.split('=')[0], t.includes('=')] : [t.slice(0, 2), t.length > 2];
      options.push(name);
      const takes = grammar.commands.get(words.join(' '))?.options.get(name) ?? grammar.globalOptions.get(name);
      if (takes && !inline) i++; // its value
      continue;
    }
    if (words.length && options.length) break; // a positional after options: a value, not a command word
    words.push(t);
  }
  if (words.some((w) => /^<|\.\.\.|…/.test(w))) return []; // a placeholder: nothing to check
  const name = words.join(' ');
  const cmd = grammar.commands.get(name);
  if (!cmd) return [`unknown command "moncam ${name}"`];
  return options
    .filter((o) => !cmd.options.has(o) && (cmd.own || !grammar.globalOptions.has(o)))
    .map((o) => `unknown option ${o} for "moncam ${name || 'run'}"`);
}

// ---- reading the Markdown ----

/** Fenced code blocks: language, first line number, text; and the text with them blanked out (lines kept). */
function splitFences(md) {
  const lines = md.split('\n');
  const blocks = [];
  const prose = [];
  let open = null;
  lines.forEach((line, i) => {
    const fence = /^\s*(```+|~~~+)\s*([\w-]*)/.exec(line);
    if (open) {
      if (fence && fence[1][0] === open.marker[0] && fence[1].length >= open.marker.length && !fence[2]) {
        blocks.push(open);
        open = null;
      } else open.lines.push(line);
      prose.push('');
    } else if (fence) {
      open = { marker: fence[1], lang: fence[2].toLowerCase(), line: i + 2, lines: [] };
      prose.push('');
    } else prose.push(line);
  });
  return { blocks, prose: prose.join('\n') };
}

/** Shell snippets: each line of a shell block (continuations joined), and each inline code span of the prose. */
function snippets(md) {
  const { blocks, prose } = splitFences(md);
  const out = [];
  for (const b of blocks) {
    if (!SHELL_LANGS.has(b.lang)) continue;
    for (let i = 0; i < b.lines.length; i++) {
      let text = b.lines[i];
      const line = b.line + i;
      while (/\\$/.test(text) && i + 1 < b.lines.length) text = text.slice(0, -1) + ' ' + b.lines[++i];
      if (b.lang === 'console') {
        if (!/^\s*[$#] /.test(text)) continue;
        text = text.replace(/^\s*[$#] /, '');
      }
      out.push({ line, text });
    }
  }
  for (const m of prose.matchAll(/(`+)([^`]+?)\1/g)) {
    const line = prose.slice(0, m.index).split('\n').length;
    out.push({ line, text: m[2].replace(/\n/g, ' ').replace(/\\\|/g, '|') });
  }
  return out;
}

/** Shell-like words of one snippet, split into commands at | || && ; and cut at a comment. */
export function commandsOf(text) {
  const commands = [[]];
  let word = null;
  const end = () => {
    if (word !== null) commands.at(-1).push(word);
    word = null;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "'" || c === '"') {
      const j = text.indexOf(c, i + 1);
      const close = j < 0 ? text.length : j;
      word = (word ?? '') + text.slice(i + 1, close);
      i = close;
    } else if (c === '<' && (word === null || word === '') && /^<[^<>]+>/.test(text.slice(i))) {
      const j = text.indexOf('>', i);
      word = (word ?? '') + text.slice(i, j + 1); // a placeholder such as <that name>
      i = j;
    } else if (c === '\\' && i + 1 < text.length) {
      word = (word ?? '') + text[++i];
    } else if (/\s/.test(c)) end();
    else if (c === '#' && word === null) break;
    else if (c === '|' || c === ';' || (c === '&' && text[i + 1] === '&')) {
      end();
      if (text[i + 1] === c) i++;
      commands.push([]);
    } else word = (word ?? '') + c;
  }
  end();
  return commands.filter((c) => c.length);
}

const PREFIX_WORDS = new Set(['sudo', 'npx', 'exec', 'time', 'env', 'nohup']);
const SUDO_VALUE_OPTIONS = new Set(['-u', '-g', '-C', '-D']);

/** What one command runs: `{ kind: 'moncam', argv }`, `{ kind: 'npm', script }`, or nothing to check. */
export function invocationOf(words) {
  let i = 0;
  while (i < words.length) {
    const w = words[i];
    if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(w)) i++;
    else if (PREFIX_WORDS.has(w)) i++;
    else if (
      /^-/.test(w) &&
      i > 0 &&
      words[i - 1] !== undefined &&
      (PREFIX_WORDS.has(words[i - 1]) || /^-/.test(words[i - 1]) || SUDO_VALUE_OPTIONS.has(words[i - 2]))
    )
      i += SUDO_VALUE_OPTIONS.has(w) ? 2 : 1;
    else break;
  }
  const rest = words.slice(i);
  const program = rest[0];
  if (program === undefined) return undefined;
  if (program === 'moncam' || /(^|\/)dist\/bin\.js$/.test(program)) return { kind: 'moncam', argv: rest.slice(1) };
  if (program === 'node' && /(^|\/)(dist\/bin\.js|src\/bin\.ts)$/.test(rest.find((w, k) => k > 0 && !w.startsWith('-') && rest[k - 1] !== '--import') ?? '')) {
    const k = rest.findIndex((w) => /(^|\/)(dist\/bin\.js|src\/bin\.ts)$/.test(w));
    return { kind: 'moncam', argv: rest.slice(k + 1) };
  }
  if (program === 'npm') {
    const sub = rest[1];
    if (sub === 'run' || sub === 'run-script') return rest[2] && !rest[2].startsWith('-') ? { kind: 'npm', script: rest[2] } : undefined;
    if (sub === 'test' || sub === 't') return { kind: 'npm', script: 'test' };
    if (sub === 'start') return { kind: 'npm', script: 'start' };
  }
  return undefined;
}

// ---- links ----

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading) {
  return heading
    .replace(/`/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchorsOf(md) {
  const seen = new Map();
  const out = new Set();
  for (const line of splitFences(md).prose.split('\n')) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = slug(m[1]);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n ? `${base}-${n}` : base);
  }
  return out;
}

function checkLinks(file, md) {
  const problems = [];
  const prose = splitFences(md).prose.replace(/(`+)[^`]*?\1/g, (s) => s.replace(/[^\n]/g, ' '));
  const targets = [
    ...[...prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => ({ target: m[1], index: m.index })),
    ...[...prose.matchAll(/<(?:img|a)\s[^>]*?(?:src|href)="([^"]+)"/g)].map((m) => ({ target: m[1], index: m.index })),
  ];
  for (const { target, index } of targets) {
    if (/^[a-z][a-z+.-]*:/i.test(target)) continue; // https:, mailto:
    const line = prose.slice(0, index).split('\n').length;
    const [p, anchor] = target.split('#');
    const resolved = p ? path.resolve(path.dirname(file), decodeURIComponent(p)) : file;
    if (!fs.existsSync(resolved)) {
      problems.push({ line, message: `link to a missing file: ${target}` });
      continue;
    }
    if (anchor && resolved.endsWith('.md') && !anchorsOf(fs.readFileSync(resolved, 'utf8')).has(anchor)) {
      problems.push({ line, message: `link to a missing heading: ${target}` });
    }
  }
  return problems;
}

// ---- the check ----

export function defaultFiles(root) {
  const docs = fs.existsSync(path.join(root, 'docs'))
    ? fs
        .readdirSync(path.join(root, 'docs'))
        .filter((f) => f.endsWith('.md'))
        .sort()
        .map((f) => path.join('docs', f))
    : [];
  return ['README.md', 'CONTRIBUTING.md', 'CHANGELOG.md', ...docs, path.join('ha-config', 'README.md')].filter((f) => fs.existsSync(path.join(root, f)));
}

/** Every problem in the given files, as `file:line: message`, and how many invocations were checked. */
export function checkFiles({ root, files, grammar, scripts, onCommand = () => {} }) {
  const problems = [];
  let checked = 0;
  for (const rel of files) {
    const file = path.resolve(root, rel);
    const md = fs.readFileSync(file, 'utf8');
    for (const { line, text } of snippets(md)) {
      for (const words of commandsOf(text)) {
        const inv = invocationOf(words);
        if (!inv) continue;
        checked++;
        onCommand(`${rel}:${line}: ${inv.kind === 'moncam' ? ['moncam', ...inv.argv].join(' ') : `npm run ${inv.script}`}`);
        const found =
          inv.kind === 'moncam'
            ? checkMoncam(inv.argv, grammar)
            : scripts[inv.script] === undefined
              ? [`npm script "${inv.script}" is not in package.json`]
              : [];
        for (const message of found) problems.push(`${rel}:${line}: ${message} (in: ${text.trim()})`);
      }
    }
    for (const { line, message } of checkLinks(file, md)) problems.push(`${rel}:${line}: ${message}`);
  }
  return { problems, checked };
}

async function main(argv) {
  let root = REPO;
  let list = false;
  const files = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--root') root = path.resolve(argv[++i] ?? '.');
    else if (argv[i] === '--list') list = true;
    else files.push(argv[i]);
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const { global, own } = await helpTexts();
  const grammar = grammarFromHelp(global, own);
  const docs = files.length ? files : defaultFiles(root);
  const onCommand = list ? (c) => process.stdout.write(`${c}\n`) : undefined;
  const { problems, checked } = checkFiles({ root, files: docs, grammar, scripts: pkg.scripts ?? {}, onCommand });
  for (const p of problems) process.stderr.write(`check-docs: ${p}\n`);
  process.stdout.write(`check-docs: ${docs.length} files, ${checked} commands checked against moncam --help and package.json, ${problems.length} problem(s)\n`);
  return problems.length ? 1 : 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === import.meta.filename) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err) => {
      process.stderr.write(`check-docs: ${err.stack ?? err}\n`);
      process.exitCode = 2;
    },
  );
}
