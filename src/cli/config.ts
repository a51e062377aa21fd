// `moncam config`: the effective configuration (secrets hidden) with where each value came from: the
// schema default, the config file, a MONCAM_* variable, or a change made in Home Assistant (settings.json).
import YAML from 'yaml';
import { configFields } from '../config/fields.ts';
import { redactConfig, type LoadedConfig } from '../config/load.ts';
import { applyOverrides, OVERRIDE_KEYS, readOverrides, settingsFile } from '../settings/overrides.ts';
import type { CliIo } from './io.ts';

export type ShownSource = 'default' | 'file' | 'env' | 'ha';

const LABEL: Record<ShownSource, (env: string) => string> = {
  default: () => 'default',
  file: () => 'config file',
  env: (env) => `env ${env}`,
  ha: () => 'HA override',
};

export async function cmdConfig(loaded: LoadedConfig, io: CliIo, json: boolean): Promise<number> {
  const overridesFile = settingsFile(loaded.config.data_dir);
  const { overrides, problem } = await readOverrides(overridesFile);
  const config = redactConfig(applyOverrides(loaded.config, overrides));
  const fields = configFields();
  const sources: Record<string, ShownSource> = { ...loaded.sources };
  for (const key of OVERRIDE_KEYS) if (key in overrides) sources[key] = 'ha';
  if (problem) io.stderr.write(`moncam: (${problem.code}) ${problem.message}\n`);

  if (json) {
    const out = { file: loaded.file ?? null, overrides_file: overridesFile, config, sources };
    io.stdout.write(JSON.stringify(out, null, 2) + '\n');
    return 0;
  }
  const doc = new YAML.Document(config);
  for (const field of fields) {
    const source = sources[field.key] ?? 'default';
    const label = ` ${LABEL[source](field.env)}`;
    const node = doc.getIn(field.path, true);
    // A scalar gets a trailing comment; a list or an unset value gets it on its key's line.
    if (YAML.isScalar(node)) node.comment = label;
    else {
      const parent = doc.getIn(field.path.slice(0, -1), true);
      const pair = YAML.isMap(parent) ? parent.items.find((p) => YAML.isScalar(p.key) && p.key.value === field.path.at(-1)) : undefined;
      if (pair && YAML.isScalar(pair.key)) pair.key.comment = label;
    }
  }
  const header = `# effective configuration${loaded.file ? ` (file: ${loaded.file})` : ' (no config file)'}; overrides from Home Assistant: ${overridesFile}\n`;
  io.stdout.write(header + doc.toString());
  return 0;
}
