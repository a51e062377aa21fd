// `moncam passwd [--mqtt]`: sets the web password, or a separate one for MQTT clients.
import { setPassword, validatePassword } from '../auth/password.ts';
import type { Config } from '../config/schema.ts';
import { UsageError, type CliIo } from './io.ts';
import { readFirstLine, readHidden } from './prompt.ts';

export async function cmdPasswd(config: Config, io: CliIo, mqtt: boolean): Promise<number> {
  let password: string;
  if (io.stdin.isTTY) {
    password = await readHidden('New password: ', io.stdin, io.stderr);
    const again = await readHidden('Repeat: ', io.stdin, io.stderr);
    if (again !== password) throw new UsageError('the passwords do not match; nothing changed');
  } else {
    password = await readFirstLine(io.stdin);
  }
  const problem = validatePassword(password);
  if (problem) throw new UsageError(`${problem}; nothing changed`);
  const file = mqtt ? config.broker.password_file : config.web.password_file;
  await setPassword(file, password);
  io.stderr.write(
    mqtt
      ? `MQTT password set (argon2id hash in ${file}): MQTT clients log in as user ${config.broker.username} with it; the web password is unchanged\n`
      : `password set (argon2id hash in ${file})\n`,
  );
  return 0;
}
