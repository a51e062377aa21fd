// The command grammar of `moncam/capture/set`: plain words or a small JSON object; everything else is refused.
import { z } from 'zod';
import { exposureSchema } from '../config/schema.ts';
import type { CaptureOptions } from '../capture/service.ts';

export const MAX_COMMAND_BYTES = 4096;

export type CommandErrorCode = 'too_large' | 'bad_encoding' | 'bad_json' | 'not_object' | 'unknown_command' | 'unknown_option' | 'invalid_option';

export type Command =
  | { ok: true; camera?: string; id?: string; source?: string; options: Pick<CaptureOptions, 'exposure' | 'shutterUs' | 'gain'> }
  | { ok: false; error: CommandErrorCode; message: string; id?: string; camera?: string };

const WORDS = new Set(['', 'PRESS', 'ON', 'CAPTURE']);
const CAMERA_ID = /^[a-z0-9_]{1,64}$/;

const commandSchema = z.strictObject({
  camera: z.string().regex(CAMERA_ID, { error: 'expected a camera id ([a-z0-9_], up to 64)' }).optional(),
  id: z.union([z.string().max(128), z.number().finite()], { error: 'expected a string (up to 128) or a number' }).optional(),
  source: z.string().max(64, { error: 'expected up to 64 characters' }).optional(),
  exposure: exposureSchema.optional(),
  shutter_us: z.number().int().min(1).max(600_000_000, { error: 'expected an integer 1..600000000' }).optional(),
  gain: z.number().min(1, { error: 'expected 1..64' }).max(64, { error: 'expected 1..64' }).optional(),
});

/**
 * Best effort for a refused JSON command: echo its `id`, and keep its `camera` so that only the
 * camera it names answers with a failed event.
 */
function echo(value: unknown): { id?: string; camera?: string } {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return {};
  const { id, camera } = value as Record<string, unknown>;
  const out: { id?: string; camera?: string } = {};
  if (typeof id === 'string' && id.length <= 128) out.id = id;
  if (typeof id === 'number' && Number.isFinite(id)) out.id = String(id);
  if (typeof camera === 'string' && CAMERA_ID.test(camera)) out.camera = camera; // a malformed id names nobody: all answer
  return out;
}

export function parseCommand(payload: Buffer): Command {
  if (payload.length > MAX_COMMAND_BYTES) return { ok: false, error: 'too_large', message: `command is ${payload.length} bytes; the limit is ${MAX_COMMAND_BYTES}` };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(payload).trim();
  } catch {
    return { ok: false, error: 'bad_encoding', message: 'command is not valid UTF-8' };
  }
  if (WORDS.has(text.toUpperCase())) return { ok: true, options: {} };
  if (!text.startsWith('{') && !text.startsWith('[')) {
    return { ok: false, error: 'unknown_command', message: `unknown command ${JSON.stringify(text.slice(0, 40))}: send nothing, PRESS, ON, CAPTURE or a JSON object` };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: 'bad_json', message: `command is not valid JSON: ${(err as Error).message}` };
  }
  const echoed = echo(value);
  if (!value || typeof value !== 'object' || Array.isArray(value)) return { ok: false, error: 'not_object', message: 'command JSON must be an object', ...echoed };
  const parsed = commandSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    if (issue.code === 'unrecognized_keys') {
      return { ok: false, error: 'unknown_option', message: `unknown option ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}; allowed: camera, id, source, exposure, shutter_us, gain`, ...echoed };
    }
    return { ok: false, error: 'invalid_option', message: `${issue.path.join('.')}: ${issue.message}`, ...echoed };
  }
  const c = parsed.data;
  return {
    ok: true,
    ...(c.camera ? { camera: c.camera } : {}),
    ...(c.id !== undefined ? { id: String(c.id) } : {}),
    ...(c.source ? { source: c.source } : {}),
    options: { ...(c.exposure ? { exposure: c.exposure } : {}), ...(c.shutter_us ? { shutterUs: c.shutter_us } : {}), ...(c.gain ? { gain: c.gain } : {}) },
  };
}
