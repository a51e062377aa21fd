// Walks the schema once to list its leaves: env names, types, defaults, docs and secrets come from here.
import { z } from 'zod';
import { configSchema } from './schema.ts';

export type LeafKind = 'string' | 'number' | 'boolean' | 'enum' | 'array' | 'bytes' | 'addresses';

export interface ConfigField {
  path: string[];
  key: string;
  env: string;
  kind: LeafKind;
  secret: boolean;
  description: string;
  defaultValue: unknown;
  choices?: readonly (string | number | boolean)[];
}

type AnySchema = z.core.$ZodType;

function def(s: AnySchema): any {
  return (s as any)._zod.def;
}

/** Peel default/optional/prefault/pipe wrappers, keeping the outermost description, default and meta. */
function unwrap(schema: AnySchema) {
  let s = schema;
  let description: string | undefined;
  let secret = false;
  let defaultValue: unknown;
  for (;;) {
    const meta = z.globalRegistry.get(s) as { description?: string; secret?: boolean } | undefined;
    description ??= meta?.description;
    secret ||= Boolean(meta?.secret);
    const d = def(s);
    if (d.type === 'default' || d.type === 'prefault') {
      if (defaultValue === undefined) defaultValue = typeof d.defaultValue === 'function' ? d.defaultValue() : d.defaultValue;
      s = d.innerType;
    } else if (d.type === 'optional' || d.type === 'nullable') s = d.innerType;
    else if (d.type === 'pipe') s = d.in;
    else break;
  }
  return { inner: s, description, secret, defaultValue };
}

function kindOf(s: AnySchema): { kind: LeafKind; choices?: readonly (string | number | boolean)[] } {
  const d = def(s);
  switch (d.type) {
    case 'string':
      return { kind: 'string' };
    case 'number':
      return { kind: 'number' };
    case 'boolean':
      return { kind: 'boolean' };
    case 'enum':
      return { kind: 'enum', choices: Object.values(d.entries) as string[] };
    case 'array':
      return { kind: 'array' };
    case 'union': {
      const opts = d.options.map((o: AnySchema) => def(o));
      if (opts.every((o: any) => o.type === 'literal')) return { kind: 'enum', choices: opts.flatMap((o: any) => o.values) };
      // web.trust_proxy: false, true or addresses (taken from the environment as text, parsed by the schema).
      if (opts.some((o: any) => o.type === 'boolean')) return { kind: 'addresses' };
      return { kind: 'bytes' };
    }
    default:
      throw new Error(`config schema: unsupported leaf type ${d.type}`);
  }
}

function walk(schema: AnySchema, path: string[], out: ConfigField[]): void {
  const { inner, description, secret, defaultValue } = unwrap(schema);
  const d = def(inner);
  if (d.type === 'object') {
    for (const [key, child] of Object.entries(d.shape as Record<string, AnySchema>)) walk(child, [...path, key], out);
    return;
  }
  out.push({
    path,
    key: path.join('.'),
    env: 'MONCAM_' + path.join('_').toUpperCase(),
    secret,
    description: description ?? '',
    defaultValue,
    ...kindOf(inner),
  });
}

/** Every leaf of the config schema, in schema order. */
export function configFields(): ConfigField[] {
  const out: ConfigField[] = [];
  walk(configSchema, [], out);
  return out;
}
