// The command grammar of `moncam/capture/set`: plain words or a small JSON object; everything else is refused.
import { z } from 'zod';
import { exposureSchema, lensPositionSchema } from '../config/schema.ts';
import type { CaptureOptions } from '../capture/service.ts';

export const MAX_COMMAND_BYTES = 4096;

export type CommandErrorCode = 'too_large' | 'bad_encoding' | 'bad_json' | 'not_object' | 'unknown_command' | 'unknown_option' | 'invalid_option';

export type Command =
  | { ok: true; camera?: string; id?: string; source?: string; options: Pick<CaptureOptions, 'exposure' | 'shutterUs' | 'gain' | 'lensPosition' | 'autofocus'> }
  | { ok: false; error: CommandErrorCode; message: string; id?: string; camera?: string };

// ASCII case only: no `u` flag, so `preſſ` (long s) or a Kelvin sign do not fold into a command word.
const WORDS = /^(?:press|on|capture)?$/i;
const CAMERA_ID = /^[a-z0-9_]{1,64}$/;
// Focus is per still (a door command may focus on the door); HDR is not: it switches the sensor mode (and
// the still size) through a sensor control that outlives the still, so it stays a camera setting.
const OPTIONS = ['camera', 'id', 'source', 'exposure', 'shutter_us', 'gain', 'lens_position', 'autofocus'] as const;
/** Refusal messages quote at most this much of a hostile payload (they end up in events and logs). */
const MAX_MESSAGE_CHARS = 240;

// String lengths are counted in characters (code points), as zod does: 128 emoji make a valid id.
const cameraSchema = z.string().regex(CAMERA_ID, { error: 'expected a camera id ([a-z0-9_], up to 64)' });
const idSchema = z.union([z.string().max(128), z.number().finite()], { error: 'expected a string (up to 128 characters) or a number' });

const commandSchema = z
  .strictObject({
    camera: cameraSchema.optional(),
    id: idSchema.optional(),
    source: z.string().max(64, { error: 'expected up to 64 characters' }).optional(),
    exposure: exposureSchema.optional(),
    shutter_us: z.number().int().min(1).max(600_000_000, { error: 'expected an integer 1..600000000' }).optional(),
    gain: z.number().min(1, { error: 'expected 1..64' }).max(64, { error: 'expected 1..64' }).optional(),
    lens_position: lensPositionSchema.optional(),
    autofocus: z.boolean({ error: 'expected true or false' }).optional(),
  })
  .refine((c) => !(c.autofocus === true && c.lens_position !== undefined), {
    error: 'lens_position and autofocus: true exclude each other (the scan moves the lens)',
    path: ['lens_position'],
  });

/**
 * Best effort for a refused JSON command: echo its `id`, and keep its `camera` so that only the
 * camera it names answers with a failed event.
 */
function echo(value: unknown): { id?: string; camera?: string } {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return {};
  const { id, camera } = value as Record<string, unknown>;
  const out: { id?: string; camera?: string } = {};
  // The same rules as for an accepted command, so an id is echoed exactly when it would have been valid.
  if (idSchema.safeParse(id).success) out.id = String(id);
  if (cameraSchema.safeParse(camera).success) out.camera = camera as string; // a malformed id names nobody: all answer
  return out;
}

/** `text` cut to `max` characters (whole code points) and quoted as JSON. */
function quote(text: string, max = 40): string {
  const points = Array.from(text.length > max * 2 ? text.slice(0, max * 2) : text);
  return JSON.stringify(points.length > max ? `${points.slice(0, max).join('')}…` : points.join(''));
}

function refuse(error: CommandErrorCode, message: string, echoed: { id?: string; camera?: string } = {}): Command {
  return { ok: false, error, message: message.length > MAX_MESSAGE_CHARS ? `${message.slice(0, MAX_MESSAGE_CHARS - 1)}…` : message, ...echoed };
}

/**
 * Checks in a fixed order, so every payload has exactly one answer: too_large, bad_encoding, (a word),
 * unknown_command, bad_json, not_object, unknown_option, invalid_option.
 */
export function parseCommand(payload: Buffer): Command {
  if (payload.length > MAX_COMMAND_BYTES) return refuse('too_large', `command is ${payload.length} bytes; the limit is ${MAX_COMMAND_BYTES}`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(payload).trim();
  } catch {
    return refuse('bad_encoding', 'command is not valid UTF-8');
  }
  if (WORDS.test(text)) return { ok: true, options: {} };
  if (!text.startsWith('{') && !text.startsWith('[')) {
    return refuse('unknown_command', `unknown command ${quote(text)}: send nothing, PRESS, ON, CAPTURE or a JSON object`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return refuse('bad_json', `command is not valid JSON: ${(err as Error).message}`);
  }
  const echoed = echo(value);
  if (!value || typeof value !== 'object' || Array.isArray(value)) return refuse('not_object', 'command JSON must be an object', echoed);
  // Unknown keys first (a misspelt option is the likelier mistake), independent of zod's issue order.
  const unknown = Object.keys(value).filter((k) => !(OPTIONS as readonly string[]).includes(k));
  if (unknown.length) {
    const named =
      unknown
        .slice(0, 3)
        .map((k) => quote(k, 32))
        .join(', ') + (unknown.length > 3 ? ` and ${unknown.length - 3} more` : '');
    return refuse('unknown_option', `unknown option ${named}; allowed: ${OPTIONS.join(', ')}`, echoed);
  }
  const parsed = commandSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return refuse('invalid_option', `${issue.path.map(String).join('.')}: ${issue.message}`, echoed);
  }
  const c = parsed.data;
  return {
    ok: true,
    ...(c.camera ? { camera: c.camera } : {}),
    ...(c.id !== undefined ? { id: String(c.id) } : {}),
    ...(c.source ? { source: c.source } : {}),
    options: {
      ...(c.exposure ? { exposure: c.exposure } : {}),
      ...(c.shutter_us ? { shutterUs: c.shutter_us } : {}),
      ...(c.gain ? { gain: c.gain } : {}),
      ...(c.lens_position !== undefined ? { lensPosition: c.lens_position } : {}),
      ...(c.autofocus !== undefined ? { autofocus: c.autofocus } : {}),
    },
  };
}

export type TimelapseCommand = { ok: true; day: string; id?: string } | { ok: false; error: CommandErrorCode | 'bad_day'; message: string; id?: string };

const timelapseSchema = z.strictObject({
  day: z
    .string()
    .regex(/^(?:\d{4}-\d{2}-\d{2}|today|yesterday)$/, { error: 'expected YYYY-MM-DD, today or yesterday' })
    .optional(),
  id: idSchema.optional(),
});

/**
 * `moncam/<cam>/timelapse/set`: empty, PRESS, ON or `today` (today so far), `yesterday`, `YYYY-MM-DD`,
 * or JSON `{"day": ..., "id": ...}`. `today` is the camera's local day; the day is checked by the caller.
 */
export function parseTimelapseCommand(payload: Buffer, today: string, yesterday: string): TimelapseCommand {
  if (payload.length > MAX_COMMAND_BYTES)
    return { ok: false, error: 'too_large', message: `command is ${payload.length} bytes; the limit is ${MAX_COMMAND_BYTES}` };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(payload).trim();
  } catch {
    return { ok: false, error: 'bad_encoding', message: 'command is not valid UTF-8' };
  }
  const named = (day: string | undefined) => (day === undefined || day === 'today' ? today : day === 'yesterday' ? yesterday : day);
  if (/^(?:press|on|today)?$/i.test(text)) return { ok: true, day: today };
  if (/^yesterday$/i.test(text)) return { ok: true, day: yesterday };
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) return { ok: true, day: text };
  if (!text.startsWith('{'))
    return {
      ok: false,
      error: 'unknown_command',
      message: `unknown command ${quote(text)}: send nothing, PRESS, today, yesterday, a day as YYYY-MM-DD or a JSON object`,
    };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: 'bad_json', message: `command is not valid JSON: ${(err as Error).message}` };
  }
  const echoed = echo(value);
  const parsed = timelapseSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.map(String).join('.');
    const message =
      issue.code === 'unrecognized_keys'
        ? `unknown option ${issue.keys
            .slice(0, 3)
            .map((k) => quote(k, 32))
            .join(', ')}; allowed: day, id`
        : `${where ? where + ': ' : ''}${issue.message}`;
    return {
      ok: false,
      error: issue.code === 'unrecognized_keys' ? 'unknown_option' : 'invalid_option',
      message: message.slice(0, MAX_MESSAGE_CHARS),
      ...(echoed.id ? { id: echoed.id } : {}),
    };
  }
  return { ok: true, day: named(parsed.data.day), ...(parsed.data.id !== undefined ? { id: String(parsed.data.id) } : {}) };
}
