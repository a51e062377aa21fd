// Runs the real `moncam` CLI (src/bin.ts through tsx) as a child process.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { CLOCK_ENV } from './setup.ts';

export const BIN = path.join(import.meta.dirname, '..', '..', 'src', 'bin.ts');
// Absolute: the children run in temp dirs where a bare `tsx` would not resolve.
export const TSX = import.meta.resolve('tsx');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  stdoutBytes: Buffer;
}

export function moncam(args: string[], opts: { cwd: string; env?: Record<string, string>; stdin?: string }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX, BIN, ...args], {
      cwd: opts.cwd,
      env: { ...CLOCK_ENV, PATH: process.env.PATH, HOME: opts.cwd, MONCAM_CAMERA_ID: 'clitest', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      const stdoutBytes = Buffer.concat(out);
      resolve({ code, stdout: stdoutBytes.toString(), stderr: Buffer.concat(err).toString(), stdoutBytes });
    });
    child.stdin.end(opts.stdin ?? '');
  });
}
