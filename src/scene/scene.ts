// Scene sensors from the raw thumbnail pixels: brightness, and a 32×24 grey signature that is stored with
// each still so the next still can be compared with it (change score).
import { loadSharp } from '../sharp.ts';

export const SIGNATURE_WIDTH = 32;
export const SIGNATURE_HEIGHT = 24;
const CELLS = SIGNATURE_WIDTH * SIGNATURE_HEIGHT;

/**
 * A cell counts as changed when its blurred grey value moved by more than this (≈ 8 % of full scale).
 * Measured on noisy JPEG stills (test/scene): sensor noise and JPEG quality move blurred cells by ≤ 1 level;
 * a +4 % daylight drift, an 8 % exposure jitter or a camera wobble of 0.5 % of the width by ≤ 17; a new or
 * moved object its cells by 55–100. A margin of 15 already counted the 8 % exposure jitter as a 9 % change;
 * higher margins only lose the edges of objects.
 */
const NOISE_MARGIN = 20;

export interface SceneStats {
  /** Mean luma, 0..100 %, one decimal. */
  brightness: number;
  /** SIGNATURE_WIDTH × SIGNATURE_HEIGHT grey bytes, row by row. */
  signature: Buffer;
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

/** From raw 8-bit pixels (channels 1, 3 or 4). */
export async function sceneStats(pixels: Buffer, raw: { width: number; height: number; channels: 1 | 3 | 4 }): Promise<SceneStats> {
  const sharp = await loadSharp();
  // sharp averages each cell's area (box shrink, then a 'linear' reduce: no ringing at edges, unlike the
  // default lanczos3); the luma of the 768 cells is then cheap in JS. Rec. 601 luma is linear in R'G'B', so
  // the mean of the cells' luma is the image's mean luma: brightness needs no second pass over the full
  // pixels (that would double the cost) and lands within 0.2 points of it (sharp's resampling weights pixels
  // slightly unevenly). sharp outputs sRGB, so grey input comes back as three equal channels; an alpha
  // channel only weights the averaging (camera pixels are opaque).
  const { data, info } = await sharp(pixels, { raw })
    .resize(SIGNATURE_WIDTH, SIGNATURE_HEIGHT, { fit: 'fill', kernel: 'linear' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const signature = Buffer.allocUnsafe(CELLS);
  let sum = 0;
  for (let i = 0; i < CELLS; i++) {
    const luma = lumaAt(data, i * info.channels);
    signature[i] = Math.round(luma);
    sum += luma;
  }
  return { brightness: round1((sum / CELLS / 255) * 100), signature };
}

/** Rec. 601 luma of the RGB pixel at offset. */
function lumaAt(data: Buffer, offset: number): number {
  return 0.299 * data[offset]! + 0.587 * data[offset + 1]! + 0.114 * data[offset + 2]!;
}

function isSignature(sig: Buffer | undefined): sig is Buffer {
  return sig !== undefined && sig.length === CELLS;
}

/**
 * 3×3 mean (edges repeated): an edge that shifts by a fraction of a cell (camera wobble, wind) spreads over
 * three cells and stays under the margin, while an object's difference spills into the cells around it.
 */
function blur(sig: Buffer): Float32Array {
  const at = (x: number, y: number) => sig[Math.min(SIGNATURE_HEIGHT - 1, Math.max(0, y)) * SIGNATURE_WIDTH + Math.min(SIGNATURE_WIDTH - 1, Math.max(0, x))]!;
  const out = new Float32Array(CELLS);
  for (let y = 0; y < SIGNATURE_HEIGHT; y++) {
    for (let x = 0; x < SIGNATURE_WIDTH; x++) {
      let sum = 0;
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) sum += at(x + dx, y + dy);
      out[y * SIGNATURE_WIDTH + x] = sum / 9;
    }
  }
  return out;
}

/**
 * Share of cells that changed, 0..100 %, one decimal; undefined when either signature is missing or has the
 * wrong length (e.g. from an older version). No brightness normalisation: lights going on or off is a change.
 * Grey only: an object of about the same luma as what it covers (a red crate on green grass) goes unseen.
 */
export function changeScore(previous: Buffer | undefined, next: Buffer | undefined): number | undefined {
  if (!isSignature(previous) || !isSignature(next)) return undefined;
  const a = blur(previous);
  const b = blur(next);
  let changed = 0;
  for (let i = 0; i < CELLS; i++) if (Math.abs(a[i]! - b[i]!) > NOISE_MARGIN) changed++;
  return round1((changed / CELLS) * 100);
}

export function encodeSignature(sig: Buffer): string {
  return sig.toString('base64');
}

/** undefined for anything that is not a valid base64 signature of the right length. */
export function decodeSignature(text: unknown): Buffer | undefined {
  if (typeof text !== 'string') return undefined;
  const sig = Buffer.from(text, 'base64');
  // Buffer.from skips characters that are not base64; only the canonical text of a full signature is valid.
  return isSignature(sig) && encodeSignature(sig) === text ? sig : undefined;
}
