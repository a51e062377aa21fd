// The one source of moncam's configuration: type, defaults, validation, env names and docs.
// One file though over 300 lines: one schema is the single source of every setting (type, default, env name, docs).
import net from 'node:net';
import os from 'node:os';
import { Cron } from 'croner';
import { z } from 'zod';

/** `[a-z0-9_]` only: the id names MQTT topics and Home Assistant unique ids. */
export function sanitizeId(raw: string): string {
  const id = raw
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^_+|_+$/g, '');
  return id || 'moncam';
}

const int = (min: number, max: number) =>
  z
    .number({ error: `expected an integer ${min}..${max}` })
    .int({ error: `expected an integer ${min}..${max}` })
    .min(min, { error: `expected ${min}..${max}` })
    .max(max, { error: `expected ${min}..${max}` });

const port = () => int(1, 65535);
const secret = () => z.string().meta({ secret: true });

const BYTE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

/** A byte count: a number or a string such as `500MB`, `2 GiB`. 0 means no limit. */
const bytes = () =>
  z.union([z.number().int().min(0), z.string()], { error: 'expected a byte size such as 500MB or 2GiB' }).transform((v, ctx) => {
    if (typeof v === 'number') return v;
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(v);
    const unit = m ? BYTE_UNITS[m[2]!.toLowerCase()] : undefined;
    if (!m || unit === undefined) {
      ctx.addIssue({ code: 'custom', message: 'expected a byte size such as 500MB or 2GiB', input: v });
      return z.NEVER;
    }
    return Math.round(Number(m[1]) * unit);
  });

/** An address or subnet of a reverse proxy: 192.168.1.2, 10.0.0.0/8, fd00::1, or `loopback`. */
function isProxyAddress(entry: string): boolean {
  if (entry === 'loopback') return true;
  const [addr, bits, extra] = entry.split('/');
  const family = net.isIP(addr ?? '');
  if (!family || extra !== undefined) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

/**
 * Which proxies may set X-Forwarded-For/-Proto: false (none), true (a proxy on this machine only), or the
 * proxy's addresses. Never "every private address": any LAN client could then pick its own client address.
 */
const trustProxy = () =>
  z
    .union([z.boolean(), z.string(), z.array(z.string())], { error: "expected false, true (loopback) or the proxy's addresses" })
    .transform((v, ctx): false | string[] => {
      if (v === false || v === 'false' || v === '') return false;
      if (v === true || v === 'true') return ['loopback'];
      const list = (Array.isArray(v) ? v : v.split(/[\s,]+/)).map((e) => e.trim()).filter(Boolean);
      const bad = list.filter((e) => !isProxyAddress(e));
      if (bad.length || !list.length) {
        ctx.addIssue({
          code: 'custom',
          message: `expected IP addresses or subnets of the proxy (e.g. 192.168.1.2 or 10.0.0.0/8), or true for a proxy on this machine; not ${bad.join(', ') || 'an empty list'}`,
          input: v,
        });
        return z.NEVER;
      }
      return list;
    });

const timezone = () =>
  z.string().refine(
    (tz) => {
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: tz });
        return true;
      } catch {
        return false;
      }
    },
    { error: 'expected an IANA time zone such as Europe/Berlin' },
  );

/** JPEG quality of the original (camera.quality); Home Assistant's Quality number takes its range from here. */
export const JPEG_QUALITY = { min: 1, max: 100 } as const;

export const EXPOSURES = ['normal', 'night', 'long', 'short', 'sport'] as const;
export const exposureSchema = z.enum(EXPOSURES);
export type Exposure = z.infer<typeof exposureSchema>;

// rpicam-apps core/options.cpp: afMode_table (default, manual, auto, continuous) and the --hdr check
// (off, auto, sensor, single-exp).
export const AUTOFOCUS_MODES = ['default', 'manual', 'auto', 'continuous'] as const;
export const HDR_MODES = ['off', 'auto', 'sensor', 'single-exp'] as const;
/** libcamera's LensPosition control range for the IMX708 (dioptres). */
export const MAX_LENS_POSITION = 32;
export const lensPositionSchema = z
  .number({ error: `expected dioptres 0..${MAX_LENS_POSITION}` })
  .min(0, { error: `expected dioptres 0..${MAX_LENS_POSITION}` })
  .max(MAX_LENS_POSITION, { error: `expected dioptres 0..${MAX_LENS_POSITION}` });

export type AutofocusMode = (typeof AUTOFOCUS_MODES)[number];
export type HdrMode = (typeof HDR_MODES)[number];

export const BACKENDS = ['auto', 'rpicam', 'raspistill', 'ffmpeg', 'synthetic'] as const;

const camera = z
  .strictObject({
    id: z
      .string()
      .regex(/^[a-z0-9_]+$/, { error: 'expected only a-z, 0-9 and _' })
      .max(64)
      .default(() => sanitizeId(os.hostname()))
      .describe('Names the MQTT topics and Home Assistant ids. Default: the host name, sanitized to [a-z0-9_].'),
    name: z.string().min(1).max(100).optional().describe('Display name in Home Assistant. Default: "moncam <id>".'),
    backend: z.enum(BACKENDS).default('auto').describe('auto probes rpicam, raspistill, ffmpeg, then falls back to synthetic.'),
    command: z.string().min(1).optional().describe('Program to run instead of the backend default (rpicam-still, raspistill, ffmpeg).'),
    width: int(16, 16384)
      .optional()
      .describe(
        "Still width in pixels. Default (rpicam): the sensor's full size read from `rpicam-still --list-cameras` (Camera Module 3: 4608x2592, HQ camera: 4056x3040); with only one of width/height set, the other follows the sensor's aspect ratio.",
      ),
    height: int(16, 16384).optional().describe("Still height in pixels. Default (rpicam): the sensor's full size."),
    quality: int(JPEG_QUALITY.min, JPEG_QUALITY.max).default(93).describe('JPEG quality of the original.'),
    rotation: z
      .union([z.literal(0), z.literal(90), z.literal(180), z.literal(270)], { error: 'expected 0, 90, 180 or 270' })
      .default(0)
      .describe('Clockwise rotation. 90/270 are applied losslessly by moncam (EXIF orientation).'),
    hflip: z.boolean().default(false).describe('Mirror horizontally.'),
    vflip: z.boolean().default(false).describe('Mirror vertically.'),
    exposure: exposureSchema.default('normal').describe('Exposure profile for on-demand stills: normal, night, long, short, sport.'),
    shutter_us: int(1, 600_000_000).optional().describe('Fixed shutter time in microseconds (rpicam/raspistill).'),
    gain: z.number().min(1).max(64).optional().describe('Fixed analogue gain (rpicam/raspistill).'),
    autofocus_mode: z
      .enum(AUTOFOCUS_MODES)
      .default('default')
      .describe(
        "rpicam, cameras with autofocus (Camera Module 3): default: rpicam-still's choice (continuous, or manual when lens_position or autofocus_on_capture is set); manual: the lens stays at lens_position; auto: one scan when the camera starts; continuous: keeps focusing.",
      ),
    autofocus_on_capture: z.boolean().default(false).describe('rpicam (Camera Module 3): an autofocus scan just before each still (`--autofocus-on-capture`).'),
    lens_position: lensPositionSchema
      .optional()
      .describe(
        'rpicam (Camera Module 3): fixed focus in dioptres, 1 / distance in metres: 0 is infinity, 0.5 is 2 m, 2 is 50 cm (`--lens-position`). Not with autofocus_mode auto or continuous.',
      ),
    hdr: z
      .enum(HDR_MODES)
      .default('off')
      .describe(
        "rpicam: high dynamic range (`--hdr`). sensor: Camera Module 3's sensor HDR (full size then 2304x1296); single-exp: multi-frame HDR on a Pi 5; auto: sensor HDR on a Camera Module 3, else single-exp where supported.",
      ),
    settle_ms: int(0, 60_000).default(1000).describe('Time the camera runs before the still, for exposure and white balance to settle.'),
    timeout_ms: int(1000, 600_000).default(30_000).describe('Hard limit for one capture; the program is sent SIGTERM, then SIGKILL.'),
    backoff_after: int(0, 1000).default(3).describe('After this many failed captures in a row, pause captures (doubling the pause each time). 0: never pause.'),
    backoff_s: z.number().min(0.01).max(3600).default(10).describe('First pause in seconds after backoff_after failures in a row.'),
    backoff_max_s: z.number().min(0.01).max(86_400).default(300).describe('Longest pause in seconds between attempts while the camera keeps failing.'),
    device: z.string().default('/dev/video0').describe('ffmpeg backend: V4L2 device.'),
    url: z.string().url().optional().describe('ffmpeg backend: RTSP or HTTP source instead of a device.'),
    extra_args: z.array(z.string()).default([]).describe("Extra arguments appended to the camera program's command line."),
    // Literals rather than z.boolean() so the docs and MONCAM_CAMERA_WARM see the three choices.
    warm: z
      .union([z.literal('auto'), z.literal(true), z.literal(false)], { error: 'expected auto, true or false' })
      .default('auto')
      .describe(
        'rpicam: keep rpicam-still running (-t 0 --signal) after the first still, so the next ones take well under a second instead of several; it then holds the camera and some memory. auto: on with more than 512 MB RAM (off on Pi Zero / Zero 2 / 3A+).',
      ),
  })
  .prefault({});

/** A cron pattern croner accepts (also for overrides set from Home Assistant, src/settings/). */
export const cronPatternSchema = z.string().refine(
  (p) => {
    try {
      new Cron(p); // no callback: parses only, schedules nothing
      return true;
    } catch {
      return false;
    }
  },
  { error: 'expected a cron pattern such as "0 * * * *"' },
);

/** schedule.exposure: a profile, or auto (day/night by brightness). */
export const scheduleExposureSchema = z.enum([...EXPOSURES, 'auto']);

const schedule = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Take stills on the schedule.'),
    cron: cronPatternSchema.default('0 * * * *').describe('Cron pattern (5 or 6 fields; croner syntax). Default: hourly.'),
    timezone: timezone().optional().describe("Time zone for the cron pattern and day folders. Default: the system's."),
    exposure: scheduleExposureSchema
      .optional()
      .describe(
        'Exposure profile for scheduled stills (the old app used night). auto: camera.exposure by day and night_exposure by night, switched by the brightness of the last scheduled still (see night_below and day_above). Unset: camera.exposure.',
      ),
    night_exposure: exposureSchema.default('long').describe('exposure auto: the profile used by night.'),
    night_below: z
      .number()
      .min(0)
      .max(100)
      .default(12)
      .describe('exposure auto: a still taken with the day profile darker than this brightness (%) switches the next scheduled stills to night_exposure.'),
    day_above: z
      .number()
      .min(0)
      .max(100)
      .default(45)
      .describe(
        'exposure auto: a still taken with night_exposure brighter than this (%) switches back to the day profile. Keep it well above night_below: a night still is brighter than a day still would be.',
      ),
  })
  .prefault({});

const scene = z
  .strictObject({
    change_threshold: z
      .number()
      .min(0)
      .max(100)
      .default(5)
      .describe(
        'A still whose change score against the previous still of the same exposure profile (% of the picture that changed) reaches this fires a `changed` event. 0: never.',
      ),
  })
  .prefault({});

const timelapse = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe("Build each day's timelapse (animated WebP) a few minutes after local midnight, and catch up on start. On-demand builds work either way."),
    size: int(64, 2048)
      .default(480)
      .describe('Long edge of the timelapse frames in pixels. Up to storage.thumb_width it is made from the thumbnails, above from the MQTT previews.'),
    frame_ms: int(20, 10_000).default(250).describe('How long each still is shown, in milliseconds.'),
    quality: int(1, 100).default(60).describe('WebP quality of the frames.'),
    gif: z
      .boolean()
      .default(true)
      .describe(
        'Also make an animated GIF of the day, under 10 MB, for phone notifications (Home Assistant attaches JPEG, PNG or GIF, not WebP). Stills are left out evenly to stay under 10 MB.',
      ),
    gif_size: int(64, 1024).default(320).describe('Long edge of the GIF frames in pixels (a 320-px frame is ~80 KB, so ~120 frames fit).'),
  })
  .prefault({});

const storage = z
  .strictObject({
    dir: z.string().optional().describe('Where stills are kept. Default: <data_dir>/captures.'),
    retention_days: int(0, 36_500).default(30).describe('Delete days older than this many days. 0 keeps everything.'),
    max_bytes: bytes().default(0).describe('Delete the oldest stills when the total exceeds this (e.g. 8GB). 0: no limit.'),
    min_free: bytes()
      .default(0)
      .describe(
        'Keep this much space free on the storage disk (e.g. 200MB): the oldest stills are deleted before a save would go below it, and after a save failed because the disk was full. 0: off.',
      ),
    thumb_width: int(64, 2048).default(480).describe('Long edge of thumbnails in pixels.'),
    thumb_quality: int(1, 100).default(80).describe('JPEG quality of thumbnails.'),
    burn_timestamp: z.boolean().default(false).describe('Also burn the time into the original (re-encodes it; the old app did).'),
  })
  .prefault({});

const mqtt = z
  .strictObject({
    url: z.string().url().optional().describe('External broker, e.g. mqtt://homeassistant.local:1883. Unset: the embedded broker is used.'),
    username: z.string().optional().describe('User name for the external broker.'),
    password: secret().optional().describe('Password for the external broker.'),
    client_id: z.string().optional().describe('MQTT client id. Default: moncam_<camera.id>.'),
    base_topic: z
      .string()
      .regex(/^[^#+\s]+$/, { error: 'expected a topic without wildcards or spaces' })
      .default('moncam')
      .describe('First level of every moncam topic.'),
    discovery: z.boolean().default(true).describe('Publish Home Assistant MQTT discovery.'),
    discovery_prefix: z.string().default('homeassistant').describe('Home Assistant discovery prefix.'),
    legacy_discovery: z.boolean().default(false).describe('Per-entity discovery for Home Assistant older than 2024.11.'),
    preview_size: int(160, 4096).default(1280).describe('Long edge of the MQTT preview image in pixels.'),
    preview_quality: int(1, 100).default(80).describe('JPEG quality of the MQTT preview.'),
    ca: z.string().optional().describe('TLS: CA certificate file.'),
    cert: z.string().optional().describe('TLS: client certificate file.'),
    key: z.string().optional().describe('TLS: client key file.'),
  })
  .prefault({});

const broker = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Run the embedded broker when mqtt.url is unset. false and no mqtt.url: no MQTT at all.'),
    host: z.string().default('0.0.0.0').describe('Embedded broker: listen address.'),
    port: port().default(1883).describe('Embedded broker: port.'),
    username: z.string().min(1).default('moncam').describe('Embedded broker: user name remote clients (Home Assistant) log in with.'),
    password_file: z
      .string()
      .optional()
      .describe(
        'Embedded broker: argon2id hash of the MQTT password, set with `moncam passwd --mqtt`. While it does not exist, the web password is the MQTT password. Default: <data_dir>/private/pass_mqtt.',
      ),
    max_packet_size: bytes()
      .default(2 * 1024 * 1024)
      .refine((n) => n >= 4096 && n <= 256 * 1024 * 1024, { error: 'expected 4KiB..256MiB' })
      .describe(
        'Embedded broker: largest MQTT packet accepted (checked while reading, before it is buffered); a client that sends a larger one is disconnected. Must hold the MQTT preview image (mqtt.preview_size): moncam skips publishing a preview that does not fit.',
      ),
    max_connections: int(1, 10_000).default(64).describe('Embedded broker: connections from other machines at once (loopback is not counted).'),
    tls_port: port()
      .default(8883)
      .describe(
        'Embedded broker: port of the TLS (mqtts) listener, opened when a certificate is configured (broker.tls_cert, else web.tls_cert). See docs/tls.md.',
      ),
    tls_cert: z.string().optional().describe('Embedded broker: PEM certificate file for mqtts (with broker.tls_key). Default: web.tls_cert.'),
    tls_key: z.string().optional().describe('Embedded broker: PEM private key file for mqtts. Default: web.tls_key.'),
    plain_remote: z
      .boolean()
      .default(true)
      .describe(
        'Embedded broker: accept plain (unencrypted) MQTT from other machines on broker.port. false: plain MQTT only from this machine (127.0.0.1), so the LAN must use mqtts.',
      ),
  })
  .prefault({});

const web = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Serve the web page.'),
    host: z.string().default('0.0.0.0').describe('Web page: listen address.'),
    port: port().default(5000).describe('Web page: port.'),
    password_file: z.string().optional().describe('argon2id hash of the password. Default: <data_dir>/private/pass_user.'),
    tls_cert: z
      .string()
      .optional()
      .describe(
        'PEM certificate file (with web.tls_key): the page is served over HTTPS on web.port, and the session cookie is Secure. Make a pair with `moncam cert`; see docs/tls.md.',
      ),
    tls_key: z.string().optional().describe('PEM private key file of web.tls_cert.'),
    trust_proxy: trustProxy()
      .default(false)
      .describe(
        'Reverse proxy in front of the page (TLS termination): true for a proxy on this machine, or its IP address(es) / subnet(s), e.g. 192.168.1.2. Only these may set X-Forwarded-For (the client address the login limit counts) and X-Forwarded-Proto. nginx and Caddy examples: docs/tls.md.',
      ),
    fresh_on_visit: z.boolean().default(true).describe('Opening the page asks for a fresh still, as the old app did.'),
    keep_visit_stills: z
      .boolean()
      .default(false)
      .describe(
        'Keep the stills page visits take in the hourly history and the timelapse. Default: a visit still is shown and published as the latest image (trigger visit) but filed in no day; the next still replaces it.',
      ),
    fresh_window_s: int(0, 86_400).default(60).describe('Visits within this many seconds of the last still share it instead of taking another.'),
    session_idle_hours: int(1, 24 * 365)
      .default(24 * 7)
      .describe('A session ends after this long without a visit.'),
    session_max_days: int(1, 3650).default(30).describe('A session ends this long after login, however active.'),
    login_attempts: int(1, 1000)
      .default(10)
      .describe(
        'Wrong passwords allowed per client address per 15 minutes, web login and MQTT together; then the web answers 429 with Retry-After and the broker "not authorized", without checking the password, until the 15 minutes are over.',
      ),
    max_event_clients: int(1, 10_000).default(50).describe('Live-update (server-sent events) connections served at once.'),
    public_url: z
      .url({ protocol: /^https?$/, error: 'expected an http(s) URL such as http://moncam.local:5000' })
      .optional()
      .describe(
        'Where Home Assistant reaches this page, e.g. http://moncam.local:5000. Enables the timelapse image entity and the device link in Home Assistant.',
      ),
  })
  .prefault({});

const log = z
  .strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('Log level.'),
  })
  .prefault({});

export const configSchema = z
  .strictObject({
    data_dir: z.string().min(1).default('./data').describe('Everything moncam writes: stills, thumbnails, private/ (password hash, session secret).'),
    camera,
    schedule,
    scene,
    timelapse,
    storage,
    mqtt,
    broker,
    web,
    log,
  })
  .superRefine((c, ctx) => {
    // State must never land under the discovery prefix (HA would read it as discovery).
    const base = c.mqtt.base_topic;
    const prefix = c.mqtt.discovery_prefix;
    if (base === prefix || base.startsWith(prefix + '/') || prefix.startsWith(base + '/')) {
      ctx.addIssue({ code: 'custom', path: ['mqtt', 'base_topic'], message: `must not overlap mqtt.discovery_prefix ("${prefix}")`, input: base });
    }
    // Equal or crossed thresholds would flip between the profiles on every still.
    if (c.schedule.exposure === 'auto' && c.schedule.day_above <= c.schedule.night_below) {
      ctx.addIssue({
        code: 'custom',
        path: ['schedule', 'day_above'],
        message: `must be above schedule.night_below (${c.schedule.night_below})`,
        input: c.schedule.day_above,
      });
    }
    // rpicam-still ignores a lens position while autofocus moves the lens (core/rpicam_app.cpp StartCamera).
    const cam = c.camera;
    if (cam.lens_position !== undefined && (cam.autofocus_mode === 'auto' || cam.autofocus_mode === 'continuous')) {
      ctx.addIssue({
        code: 'custom',
        path: ['camera', 'lens_position'],
        message: `is ignored with camera.autofocus_mode ${cam.autofocus_mode}: set autofocus_mode to manual (or default), or remove lens_position`,
        input: cam.lens_position,
      });
    }
    // A certificate is useless without its key and the other way round.
    for (const section of ['web', 'broker'] as const) {
      const { tls_cert: cert, tls_key: key } = c[section];
      if ((cert === undefined) !== (key === undefined)) {
        const missing = cert === undefined ? 'tls_cert' : 'tls_key';
        ctx.addIssue({
          code: 'custom',
          path: [section, missing],
          message: `must be set together with ${section}.${missing === 'tls_cert' ? 'tls_key' : 'tls_cert'} (both or neither)`,
          input: undefined,
        });
      }
    }
  });

/** The parsed config, before paths are resolved. */
export type ParsedConfig = z.infer<typeof configSchema>;

/** The config every service receives: paths are absolute and derived ones filled in. */
export type Config = ParsedConfig & {
  data_dir: string;
  storage: ParsedConfig['storage'] & { dir: string };
  web: ParsedConfig['web'] & { password_file: string };
  broker: ParsedConfig['broker'] & { password_file: string };
  camera: ParsedConfig['camera'] & { name: string };
};
