// `moncam capture [--out FILE]`: one still now, stored (default) or written to FILE / stdout.
import fs from 'node:fs/promises';
import { createApp } from '../app.ts';
import { probeCamera } from '../camera/auto.ts';
import { originalOf } from '../capture/original.ts';
import { stillRequest } from '../capture/request.ts';
import type { Config } from '../config/schema.ts';
import { createLogger } from '../log.ts';
import { controlSocketPath, requestCapture, type CaptureAnswer, type FailureAnswer } from '../control/socket.ts';
import { DataDirLockedError } from '../storage/lock.ts';
import type { CliIo } from './io.ts';

export async function cmdCapture(config: Config, io: CliIo, out: string | undefined): Promise<number> {
  const logger = createLogger(config.log.level === 'info' ? 'warn' : config.log.level);
  if (out !== undefined) {
    // While the daemon runs it holds the camera: it takes the still (kept in its history too) and the
    // CLI copies the original out.
    const asked = await requestCapture(config.data_dir);
    if (asked) {
      if (!asked.ok) return printAnswer(asked, io);
      const jpeg = await fs.readFile(asked.path);
      if (out === '-') io.stdout.write(jpeg);
      else {
        await fs.writeFile(out, jpeg);
        io.stderr.write(`wrote ${out} (${asked.width}x${asked.height}, ${jpeg.length} bytes, ${asked.backend}) from the running moncam\n`);
      }
      return 0;
    }
    // Like the old capture.py: one still to a file, nothing stored.
    const { camera } = await probeCamera(config, logger);
    const still = await camera.capture(stillRequest(config));
    const { jpeg, info } = originalOf(still);
    if (out === '-') io.stdout.write(jpeg);
    else {
      await fs.writeFile(out, jpeg);
      io.stderr.write(`wrote ${out} (${info.width}x${info.height}, ${jpeg.length} bytes, ${camera.backend})\n`);
    }
    return 0;
  }
  // While the daemon runs it holds the data dir and the camera: it takes the still.
  const asked = await requestCapture(config.data_dir);
  if (asked) return printAnswer(asked, io);
  const app = await createApp({ config: { ...config, schedule: { ...config.schedule, enabled: false } }, logger, mqtt: false, web: false, control: false });
  try {
    await app.start();
  } catch (err) {
    if (err instanceof DataDirLockedError) {
      throw Object.assign(
        new Error(
          `a moncam daemon is running on ${config.data_dir} but does not answer on ${controlSocketPath(config.data_dir)}; take the still from the web page or over MQTT, or use moncam capture --out FILE`,
        ),
        { code: 'locked' },
      );
    }
    throw err;
  }
  try {
    const record = await app.captures.capture('cli');
    io.stdout.write(`${record.capture.files.original}\n`);
    io.stderr.write(
      `captured ${record.capture.id} (${record.capture.meta.full_width}x${record.capture.meta.full_height}, ${record.capture.bytes} bytes, ${app.camera.backend})\n`,
    );
  } finally {
    await app.stop();
  }
  return 0;
}

function printAnswer(a: CaptureAnswer | FailureAnswer, io: CliIo): number {
  // Printed like a local failure: `moncam: (code) capture failed: message`, the detail below, exit 1.
  if (!a.ok) throw Object.assign(new Error(`capture failed: ${a.error.message}`), { code: a.error.code, detail: a.error.detail });
  io.stdout.write(`${a.path}\n`);
  io.stderr.write(`captured ${a.id} (${a.width}x${a.height}, ${a.bytes} bytes, ${a.backend}) by the running moncam\n`);
  return 0;
}
