// The burned-in time tag, drawn from a 5x7 bitmap font into a raw RGBA overlay.
// No fonts or SVG renderer involved: a Pi OS Lite image may have no fonts, and this costs microseconds.
import { formatDay, pad, type LocalClock } from '../clock.ts';

const GLYPHS: Record<string, string[]> = {
  '0': ['01110', '10001', '10011', '10101', '11001', '10001', '01110'],
  '1': ['00100', '01100', '00100', '00100', '00100', '00100', '01110'],
  '2': ['01110', '10001', '00001', '00010', '00100', '01000', '11111'],
  '3': ['11110', '00001', '00001', '01110', '00001', '00001', '11110'],
  '4': ['00010', '00110', '01010', '10010', '11111', '00010', '00010'],
  '5': ['11111', '10000', '11110', '00001', '00001', '10001', '01110'],
  '6': ['00110', '01000', '10000', '11110', '10001', '10001', '01110'],
  '7': ['11111', '00001', '00010', '00100', '01000', '01000', '01000'],
  '8': ['01110', '10001', '10001', '01110', '10001', '10001', '01110'],
  '9': ['01110', '10001', '10001', '01111', '00001', '00010', '01100'],
  '-': ['00000', '00000', '00000', '11111', '00000', '00000', '00000'],
  '+': ['00000', '00100', '00100', '11111', '00100', '00100', '00000'],
  ':': ['00000', '01100', '01100', '00000', '01100', '01100', '00000'],
  '.': ['00000', '00000', '00000', '00000', '00000', '01100', '01100'],
  ' ': ['00000', '00000', '00000', '00000', '00000', '00000', '00000'],
};

/** Local wall-clock time `YYYY-MM-DD HH:MM:SS` on the app's clock (its cached formatter: one per app, not per still). */
export function timeTagText(date: Date, clock: LocalClock): string {
  const p = clock.parts(date);
  return `${formatDay(p.year, p.month, p.day)} ${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}`;
}

export interface TagPlacement {
  /** Font pixel size; default scales with the image width. */
  scale?: number;
  /** Left edge in pixels; default 0. */
  left?: number;
  /** Top edge in pixels; default: the box sits on the bottom edge. */
  top?: number;
}

/**
 * Draws white text on a darkened box straight into raw pixels (in place).
 * Cheaper than a sharp composite, which converts the whole image to float to blend a small box.
 */
export function drawTimeTag(pixels: Buffer, width: number, height: number, channels: number, text: string, at: TagPlacement = {}): void {
  const scale = at.scale ?? Math.max(1, Math.round(width / 320));
  const pad = 2 * scale;
  const cell = 6 * scale; // 5 columns + 1 gap
  const boxW = Math.min(width, pad * 2 + text.length * cell - scale);
  const boxH = Math.min(height, pad * 2 + 7 * scale);
  const left = Math.max(0, Math.min(at.left ?? 0, width - boxW));
  const top = Math.max(0, Math.min(at.top ?? height - boxH, height - boxH));
  const colours = Math.min(channels, 3);
  for (let y = top; y < top + boxH; y++) {
    for (let x = left; x < left + boxW; x++) {
      const i = (y * width + x) * channels;
      for (let c = 0; c < colours; c++) pixels[i + c] = pixels[i + c]! * 0.45; // translucent black
    }
  }
  [...text].forEach((ch, n) => {
    const glyph = GLYPHS[ch] ?? GLYPHS[' ']!;
    for (let gy = 0; gy < 7; gy++) {
      for (let gx = 0; gx < 5; gx++) {
        if (glyph[gy]![gx] !== '1') continue;
        const x0 = left + pad + n * cell + gx * scale;
        const y0 = top + pad + gy * scale;
        for (let y = y0; y < Math.min(y0 + scale, top + boxH); y++) {
          for (let x = x0; x < Math.min(x0 + scale, left + boxW); x++) pixels.fill(255, (y * width + x) * channels, (y * width + x) * channels + colours);
        }
      }
    }
  });
}
