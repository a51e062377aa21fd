// `moncam capture [--out FILE]`: one still now, stored (default) or written to FILE / stdout.
import fs from 'node:fs/promises';
import { createApp } from '../app.ts';
import { probeCamera } from '../camera/auto.ts';
import { originalOf } from '../capture/original.ts';
import { stillRequest } from '../capture/request.ts';
import type { Config } from '../config/schema.ts';
import { createLogger } from '../log.ts';
import type { CliIo } from './io.ts';

export async function cmdCapture(config: Config, io: CliIo, out: string | undefined): Promise<number> {
  const logger = createLogger(config.log.level === 'info' ? 'warn' : config.log.level);
  if (out !== undefined) {
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
  const app = await createApp({ config: { ...config, schedule: { ...config.schedule, enabled: false } }, logger, mqtt: false, web: false });
  await app.start();
  try {
    const record = await app.captures.capture('cli');
    io.stdout.write(`${record.capture.files.original}\n`);
    io.stderr.write(`captured ${record.capture.id} (${record.fullWidth}x${record.fullHeight}, ${record.capture.bytes} bytes, ${app.camera.backend})\n`);
  } finally {
    await app.stop();
  }
  return 0;
}
