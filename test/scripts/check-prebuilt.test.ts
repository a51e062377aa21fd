import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { builtNapiVersion, checkPrebuilt, napiOf, oldestAllowed } from '../../scripts/check-prebuilt.mjs';
import { tempDir } from '../helpers/setup.ts';

const ROOT = path.join(import.meta.dirname, '..', '..');
const SCRIPT = path.join(ROOT, 'scripts', 'check-prebuilt.mjs');
const ARGON2 = path.join(ROOT, 'node_modules', 'argon2');
const X64_PREBUILT = path.join(ARGON2, 'prebuilds', 'linux-x64', 'argon2.glibc.node');
const ENGINES = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;

/** A node_modules dir with one package `name` holding `files` (path -> content). */
function fakeModules(name: string, files: Record<string, string | Buffer>): string {
  const modules = path.join(tempDir('moncam-prebuilt-'), 'node_modules');
  const dir = path.join(modules, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0' }));
  for (const [file, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), content);
  }
  fs.writeFileSync(path.join(modules, '..', 'package.json'), JSON.stringify({ engines: { node: ENGINES } }));
  return modules;
}

/** The x64 argon2 prebuilt with its reported Node-API version changed to `napi` (the `mov eax, imm32` operand). */
function withNapi(napi: number): Buffer {
  const b = Buffer.from(fs.readFileSync(X64_PREBUILT));
  const at = b.indexOf(Buffer.from([0xb8, 0x09, 0x00, 0x00, 0x00, 0xc3]));
  assert.ok(at > 0, 'mov eax, 9; ret in the x64 prebuilt');
  b[at + 1] = napi;
  return b;
}

describe('check-prebuilt', () => {
  it('maps Node releases to their Node-API version and reads the oldest one engines allows', () => {
    assert.equal(napiOf('20.2.0'), 8);
    assert.equal(napiOf('20.9.0'), 9);
    assert.equal(napiOf('22.13.1'), 9);
    assert.equal(napiOf('22.14.0'), 10);
    assert.equal(napiOf('24.0.0'), 10);
    assert.equal(oldestAllowed('>=20.9'), '20.9.0');
    assert.throws(() => oldestAllowed('^20 || ^22'), { code: 'ENGINES_FORM' });
  });

  it('reads the Node-API version compiled into x86-64, aarch64 and ARM (Thumb) binaries', () => {
    assert.equal(builtNapiVersion(X64_PREBUILT), 9);
    assert.equal(builtNapiVersion(path.join(ARGON2, 'prebuilds', 'linux-arm64', 'argon2.armv8.glibc.node')), 9);
    assert.equal(builtNapiVersion(path.join(ARGON2, 'prebuilds', 'linux-arm', 'argon2.armv7.glibc.node')), 9);
    const dir = tempDir('moncam-napi-');
    fs.writeFileSync(path.join(dir, 'ten.node'), withNapi(10));
    assert.equal(builtNapiVersion(path.join(dir, 'ten.node')), 10);
    fs.writeFileSync(path.join(dir, 'text.node'), 'not an ELF file');
    assert.equal(builtNapiVersion(path.join(dir, 'text.node')), null);
  });

  it('passes the real install: argon2 and sharp load from prebuilt binaries', () => {
    const { problems, natives } = checkPrebuilt(path.join(ROOT, 'node_modules'), ENGINES);
    assert.deepEqual(problems, []);
    const names = natives.map((n) => n.name);
    assert.ok(names.includes('argon2'), names.join());
    assert.ok(
      names.some((n) => n.startsWith('@img/sharp-linux-')),
      names.join(),
    );
    assert.ok(
      natives.every((n) => n.napi >= 8 && n.napi <= 9),
      JSON.stringify(natives),
    );
  });

  it('fails on a module compiled at install time (build/Release/*.node), naming it', () => {
    const modules = fakeModules('fake-native', { 'binding.gyp': '{}', 'build/Release/fake.node': fs.readFileSync(X64_PREBUILT) });
    const { problems } = checkPrebuilt(modules, ENGINES);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /fake-native: fake-native\/build\/Release\/fake\.node was compiled at install time/);
    const cli = spawnSync(process.execPath, [SCRIPT, modules], { encoding: 'utf8' });
    assert.equal(cli.status, 1);
    assert.match(cli.stderr, /check:prebuilt FAILED/);
    assert.match(cli.stderr, /compiled at install time/);
  });

  it('skips packages the lockfile marks dev-only (users never install them), and only those', () => {
    const modules = fakeModules('lint-native', { 'build/Release/lint.node': fs.readFileSync(X64_PREBUILT) });
    assert.equal(checkPrebuilt(modules, ENGINES).problems.length, 1);
    const lock = (dev: boolean) => JSON.stringify({ packages: { '': {}, 'node_modules/lint-native': { version: '1.0.0', ...(dev ? { dev: true } : {}) } } });
    fs.writeFileSync(path.join(modules, '.package-lock.json'), lock(false));
    assert.equal(checkPrebuilt(modules, ENGINES).problems.length, 1);
    fs.writeFileSync(path.join(modules, '.package-lock.json'), lock(true));
    const { problems, skipped, natives } = checkPrebuilt(modules, ENGINES);
    assert.deepEqual(problems, []);
    assert.deepEqual(natives, []);
    assert.deepEqual(skipped, ['lint-native']);
  });

  it('fails on a prebuilt that needs a newer Node-API than the oldest Node engines allows (argon2 0.45 on Node 20)', () => {
    const modules = fakeModules('argon2', { 'binding.gyp': '{}', 'prebuilds/linux-x64/argon2.glibc.node': withNapi(10) });
    const { problems } = checkPrebuilt(modules, '>=20.9');
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /needs Node-API 10, but engines allows Node 20\.9\.0, which has Node-API 9/);
    assert.deepEqual(checkPrebuilt(modules, '>=22.14').problems, []);
  });

  it('fails on a package with binding.gyp and no binary at all (install script skipped, nothing prebuilt)', () => {
    const modules = fakeModules('gyp-only', { 'binding.gyp': '{}' });
    assert.match(checkPrebuilt(modules, ENGINES).problems.join(), /gyp-only: has binding.gyp but no prebuilt/);
  });

  it('exits 0 with a summary on a clean tree', () => {
    const modules = fakeModules('argon2', { 'prebuilds/linux-x64/argon2.glibc.node': withNapi(9) });
    const cli = spawnSync(process.execPath, [SCRIPT, modules], { encoding: 'utf8' });
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, /argon2@1\.0\.0: Node-API 9/);
    assert.match(cli.stdout, /check:prebuilt ok/);
  });
});
