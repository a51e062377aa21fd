// A camera for machines without one: renders a test scene with the time on it, so everything downstream is real.
import { loadSharp } from '../sharp.ts';
import { drawTimeTag, timeTagText } from '../image/timetag.ts';
import { LocalClock } from '../clock.ts';
import type { Camera, Shot, StillRequest } from './types.ts';

export interface SyntheticOptions {
  width?: number;
  height?: number;
  timeZone?: string;
  now?: () => Date;
}

const DEFAULT_WIDTH = 1640;
const DEFAULT_HEIGHT = 1232;

/** A garden-ish scene whose sun moves with the minute, so consecutive stills differ. */
function sceneSvg(width: number, height: number, date: Date, dark: boolean): string {
  const horizon = Math.round(height * 0.62);
  const t = (date.getMinutes() * 60 + date.getSeconds()) / 3600;
  const sunX = Math.round(width * (0.1 + 0.8 * t));
  const sunY = Math.round(horizon * (0.75 - 0.5 * Math.sin(Math.PI * t)));
  const r = Math.round(Math.min(width, height) * 0.07);
  const [skyTop, skyLow, ground] = dark ? ['#0b1026', '#1d2a4d', '#10240f'] : ['#3d7fd6', '#bfe0ff', '#3f7d2c'];
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
  <defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${skyTop}"/><stop offset="1" stop-color="${skyLow}"/></linearGradient></defs>
  <rect width="${width}" height="${horizon}" fill="url(#sky)"/>
  <circle cx="${sunX}" cy="${sunY}" r="${r}" fill="${dark ? '#e8e8f0' : '#ffd23f'}"/>
  <rect y="${horizon}" width="${width}" height="${height - horizon}" fill="${ground}"/>
  <rect x="${Math.round(width * 0.62)}" y="${Math.round(horizon * 0.72)}" width="${Math.round(width * 0.2)}" height="${Math.round(horizon * 0.28)}" fill="#8a4b2f"/>
  <polygon points="${Math.round(width * 0.6)},${Math.round(horizon * 0.72)} ${Math.round(width * 0.72)},${Math.round(horizon * 0.5)} ${Math.round(width * 0.84)},${Math.round(horizon * 0.72)}" fill="#5a2d1c"/>
</svg>`;
}

export class SyntheticCamera implements Camera {
  readonly backend = 'synthetic';
  readonly description = 'synthetic test scene (no camera found)';
  private readonly opts: SyntheticOptions;
  /** Built on the first still: a time-zone formatter is costly, and constructors only store. */
  private clock?: LocalClock;

  constructor(opts: SyntheticOptions = {}) {
    this.opts = opts;
  }

  async capture(req: StillRequest): Promise<Shot> {
    const sharp = await loadSharp();
    const date = (this.opts.now ?? (() => new Date()))();
    const width = req.width ?? this.opts.width ?? DEFAULT_WIDTH;
    const height = req.height ?? this.opts.height ?? DEFAULT_HEIGHT;
    const dark = req.exposure === 'night' || req.exposure === 'long';
    const pixels = await sharp(Buffer.from(sceneSvg(width, height, date, dark)))
      .flatten()
      .removeAlpha()
      .raw()
      .toBuffer();
    // A big clock in the scene (not the small burned-in tag added to derived images).
    const scale = Math.max(1, Math.floor(width / 200));
    drawTimeTag(pixels, width, height, 3, timeTagText(date, (this.clock ??= new LocalClock(this.opts.timeZone))), {
      scale,
      left: Math.round(width * 0.05),
      top: Math.round(height * 0.8),
    });
    let img = sharp(pixels, { raw: { width, height, channels: 3 } });
    if (req.rotation) img = img.rotate(req.rotation);
    if (req.vflip) img = img.flip();
    if (req.hflip) img = img.flop();
    const jpeg = await img
      .jpeg({ quality: req.quality })
      .withExif({ IFD0: { Make: 'moncam', Model: 'synthetic' } })
      .toBuffer();
    return { jpeg };
  }
}
