#!/usr/bin/env node
// `npm run check:prebuilt`: fails when a native module in node_modules was compiled at install time
// (node-gyp output under build/) instead of loaded from its prebuilt binary, and when a prebuilt needs a
// newer Node-API than the oldest Node release `engines` allows. A Pi without a compiler cannot build
// them, and a compile on CI would hide a broken prebuilt (argon2 0.45's segfaulted on Node 20).
// Usage: check-prebuilt.mjs [node_modules dir] (default: ./node_modules). Exit 1 with one line per problem.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Oldest release of each line with that Node-API version (nodejs.org/api/n-api.html#node-api-version-matrix).
const NAPI_SINCE = [
  { napi: 10, since: { 22: '22.14.0', 23: '23.6.0' }, from: '24.0.0' },
  { napi: 9, since: { 18: '18.17.0', 20: '20.3.0' }, from: '21.0.0' },
  { napi: 8, since: { 12: '12.22.0', 14: '14.17.0', 15: '15.12.0' }, from: '16.0.0' },
];

function cmp(a, b) {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}

/** Node-API version a given Node release provides (per the matrix above; 7 or less is not tracked). */
export function napiOf(version) {
  const major = Number(version.split('.')[0]);
  for (const row of NAPI_SINCE) {
    if (cmp(version, row.from) >= 0) return row.napi;
    const since = row.since[major];
    if (since && cmp(version, since) >= 0) return row.napi;
  }
  return 7;
}

/** Oldest Node release `engines.node` allows: only the `>=X.Y[.Z]` form moncam uses is accepted. */
export function oldestAllowed(range) {
  const m = /^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(String(range ?? '').trim());
  if (!m) throw Object.assign(new Error(`engines.node "${range}" is not of the form ">=X.Y.Z"`), { code: 'ENGINES_FORM' });
  return `${m[1]}.${m[2] ?? 0}.${m[3] ?? 0}`;
}

/**
 * The Node-API version a .node file was built for: what its exported `node_api_module_get_api_version_v1`
 * returns (Node refuses or, before 22.14, mis-loads a module built for a newer one), read from the ELF
 * dynamic symbol table and the function's first instructions (x86-64, aarch64, ARM/Thumb). null when the
 * file has no such export or is not a Linux binary (the package's declared napi_versions count then).
 */
export function builtNapiVersion(file) {
  const b = fs.readFileSync(file);
  if (b.length < 52 || b.readUInt32BE(0) !== 0x7f454c46 || b[5] !== 1) return null; // little-endian ELF only
  const is64 = b[4] === 2;
  const u = (o, n) => (n === 8 ? Number(b.readBigUInt64LE(o)) : n === 4 ? b.readUInt32LE(o) : b.readUInt16LE(o));
  const W = is64 ? 8 : 4;
  const machine = u(18, 2);
  const shoff = u(is64 ? 40 : 32, W);
  const shentsize = u(is64 ? 58 : 46, 2);
  const shnum = u(is64 ? 60 : 48, 2);
  const sections = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize;
    sections.push({
      type: u(o + 4, 4),
      addr: u(o + (is64 ? 16 : 12), W),
      offset: u(o + (is64 ? 24 : 16), W),
      size: u(o + (is64 ? 32 : 20), W),
      link: u(o + (is64 ? 40 : 24), 4),
      entsize: u(o + (is64 ? 56 : 36), W),
    });
  }
  const dynsym = sections.find((s) => s.type === 11);
  if (!dynsym) return null;
  const strtab = sections[dynsym.link];
  let value = null;
  for (let o = dynsym.offset; o + dynsym.entsize <= dynsym.offset + dynsym.size; o += dynsym.entsize) {
    const nameOff = strtab.offset + u(o, 4);
    const name = b.toString('latin1', nameOff, b.indexOf(0, nameOff));
    if (name === 'node_api_module_get_api_version_v1') {
      value = is64 ? u(o + 8, 8) : u(o + 4, 4);
      break;
    }
  }
  if (value === null) return null;
  const addr = machine === 40 ? value & ~1 : value;
  const sec = sections.find((s) => s.type !== 8 && s.addr && addr >= s.addr && addr < s.addr + s.size);
  if (!sec) return null;
  const at = addr - sec.addr + sec.offset;
  const code = b.subarray(at, at + 16);
  if (machine === 62) {
    const i = code.indexOf(0xb8); // mov eax, imm32 (after an optional endbr64)
    return i >= 0 && i <= 4 ? code.readUInt32LE(i + 1) : null;
  }
  if (machine === 183) {
    for (let i = 0; i < 16; i += 4) {
      const ins = code.readUInt32LE(i);
      if ((ins & 0xffe0001f) === 0x52800000) return (ins >> 5) & 0xffff; // movz w0, #imm
    }
    return null;
  }
  if (machine === 40) {
    for (let i = 0; i < 16; i += value & 1 ? 2 : 4) {
      if (value & 1) {
        const hw = code.readUInt16LE(i);
        if ((hw & 0xff00) === 0x2000) return hw & 0xff; // thumb: movs r0, #imm8
      } else {
        const ins = code.readUInt32LE(i);
        if ((ins & 0x0ffff000) === 0x03a00000) return ins & 0xff; // arm: mov r0, #imm
      }
    }
  }
  return null;
}

function walk(dir, onPackage, depth = 0) {
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    if (!e.isDirectory() || e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    if (e.name.startsWith('@') && depth === 0) {
      walk(p, onPackage, 1);
      continue;
    }
    if (fs.existsSync(path.join(p, 'package.json'))) onPackage(p);
    walk(path.join(p, 'node_modules'), onPackage, 0);
  }
}

function nodeFiles(dir, out = []) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory() && e.name !== 'node_modules') nodeFiles(p, out);
    else if (e.isFile() && e.name.endsWith('.node')) out.push(p);
  }
  return out;
}

/**
 * Checks every package under `modulesDir`. Returns { problems, natives }: natives lists each native
 * package with its prebuilt binaries and the Node-API version they need.
 */
export function checkPrebuilt(modulesDir, enginesNode) {
  const oldest = oldestAllowed(enginesNode);
  const provided = napiOf(oldest);
  const problems = [];
  const natives = [];
  const devOnly = devOnlyPackages(modulesDir);
  const skipped = [];
  walk(modulesDir, (dir) => {
    const rel = path.relative(path.dirname(modulesDir), dir).split(path.sep).join('/');
    if (devOnly.has(rel)) {
      if (nodeFiles(dir).length) skipped.push(rel.replace(/^.*node_modules\//, ''));
      return;
    }
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    const name = pkg.name ?? path.basename(dir);
    const binaries = nodeFiles(dir);
    const hasGyp = fs.existsSync(path.join(dir, 'binding.gyp'));
    if (!binaries.length && !hasGyp) return;
    const compiled = binaries.filter((f) => path.relative(dir, f).split(path.sep).includes('build'));
    for (const f of compiled) {
      problems.push(
        `${name}: ${path.relative(modulesDir, f)} was compiled at install time (node-gyp build/), not loaded from a prebuilt; a Pi without a compiler cannot install it`,
      );
    }
    const prebuilt = binaries.filter((f) => !compiled.includes(f));
    if (hasGyp && !prebuilt.length && !compiled.length && !hasPrebuiltPackage(modulesDir, name)) {
      problems.push(`${name}: has binding.gyp but no prebuilt .node for any platform`);
    }
    const declared = Math.max(0, ...(pkg.binary?.napi_versions ?? []).map(Number));
    const needed = {};
    for (const f of prebuilt) {
      needed[path.relative(dir, f)] = Math.max(declared, builtNapiVersion(f) ?? 0);
    }
    const need = Math.max(0, ...Object.values(needed));
    if (need > provided) {
      problems.push(
        `${name}@${pkg.version}: its prebuilt needs Node-API ${need}, but engines allows Node ${oldest}, which has Node-API ${provided}; pin a version built for Node-API <= ${provided} or raise engines.node`,
      );
    }
    if (prebuilt.length || compiled.length)
      natives.push({ name, version: pkg.version, napi: need, binaries: prebuilt.map((f) => path.relative(modulesDir, f)) });
  });
  return { problems, natives, oldest, provided, skipped };
}

/**
 * Packages only the developers install (eslint's resolver and the like): npm marks them `dev` in the
 * lockfile it keeps in node_modules. A Pi user's install (`npm install -g`, `npm ci --omit=dev`) never
 * fetches them, so their binaries are not the user's problem.
 */
function devOnlyPackages(modulesDir) {
  const dev = new Set();
  for (const lock of [path.join(modulesDir, '.package-lock.json'), path.join(path.dirname(modulesDir), 'package-lock.json')]) {
    let packages;
    try {
      packages = JSON.parse(fs.readFileSync(lock, 'utf8')).packages ?? {};
    } catch {
      continue;
    }
    for (const [key, entry] of Object.entries(packages)) if (entry?.dev) dev.add(key);
    return dev;
  }
  return dev;
}

// sharp keeps its binaries in per-platform packages (@img/sharp-<platform>): the source package is fine.
function hasPrebuiltPackage(modulesDir, name) {
  if (name !== 'sharp') return false;
  const img = path.join(modulesDir, '@img');
  return fs.existsSync(img) && fs.readdirSync(img).some((d) => /^sharp-(?!libvips)/.test(d));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const modulesDir = path.resolve(process.argv[2] ?? 'node_modules');
  const root = path.dirname(modulesDir);
  const engines = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).engines?.node;
  try {
    const { problems, natives, oldest, provided, skipped } = checkPrebuilt(modulesDir, engines);
    for (const n of natives) console.log(`${n.name}@${n.version}: Node-API ${n.napi || '?'}; ${n.binaries.length} prebuilt binaries`);
    if (skipped.length) console.log(`not checked (development only, not installed by users): ${skipped.join(', ')}`);
    if (problems.length) {
      console.error(`check:prebuilt FAILED (engines.node ${engines}: oldest Node ${oldest}, Node-API ${provided}):`);
      for (const p of problems) console.error(`  - ${p}`);
      process.exit(1);
    }
    console.log(`check:prebuilt ok: no native module compiled at install time; all need Node-API <= ${provided} (Node ${oldest}).`);
  } catch (err) {
    console.error(`check:prebuilt: ${err.message}`);
    process.exit(1);
  }
}
