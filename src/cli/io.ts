// What every `moncam` subcommand receives, and the error that means "bad usage" (exit code 2).
import type { TtyInput } from './prompt.ts';

export interface CliIo {
  stdin: TtyInput;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** Printed as one line with a hint to `moncam --help`; exit code 2. */
export class UsageError extends Error {}
