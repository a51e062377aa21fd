// Animated WebP timelapse from JPEG stills, one frame in memory at a time.
//
// Why a hand-written container instead of sharp's `join: { animated: true }` (measured by `npm run bench`:
// 480x360 stills, ~28 KB JPEGs, quality 75, 2 cores, daemon memory settings): join's peak RSS grows with the
// frame count, 83 MB for 24 frames and 212 MB for 288 (~0.45 MB a frame: the animation is one tall libvips
// image, written only once complete), and it cannot letterbox frames of another size. Here sharp encodes each
// frame as a still WebP whose image chunk goes straight into an ANMF chunk of the file (WebP container spec:
// RIFF, VP8X with the animation flag, ANIM, ANMF per frame): 77 MB for 24 frames, 78 MB for 288, no slower.
// The cost: every frame is a whole key frame. Camera frames lose nothing by it (sensor noise leaves join's
// inter-frame diffing no unchanged pixels: same size within 0.1%), but a pixel-identical static scene, as
// the synthetic camera renders, comes out up to ~20x larger than join's.
import type { FileHandle } from 'node:fs/promises';
import fsp from 'node:fs/promises';
import { loadSharp } from '../sharp.ts';

/** Not one of the frames could be read and decoded. */
export class NoFramesError extends Error {
  override name = 'NoFramesError';
}

export interface TimelapseEncodeOptions {
  /** Longest edge of the frames in pixels (frames are never enlarged beyond their source size... but all frames get the canvas size of the first decodable frame). */
  size: number;
  /** Display time of each frame in ms. */
  frameMs: number;
  /** WebP quality 1..100. */
  quality: number;
  /** Stops between frames; rejects with signal.reason. */
  signal?: AbortSignal;
  /** Told the input index of each file that became a frame (skipped ones are not), in frame order. */
  onFrame?: (input: number) => void;
}

export interface TimelapseResult {
  frames: number;
  skipped: number;
  width: number;
  height: number;
  bytes: number;
}

export interface Canvas {
  width: number;
  height: number;
}

const BLACK = { r: 0, g: 0, b: 0 };
/** WebP stores dimensions in 14 bits (still) / 24 bits (canvas); libwebp refuses more than this per side. */
const MAX_SIDE = 16383;
/** ANMF frame duration is a 24-bit field. */
const MAX_FRAME_MS = 0xffffff;
/** The RIFF size field is 32 bits and counts everything after the first 8 bytes. */
const MAX_FILE_BYTES = 0xffffffff + 8;
/** Chunks of a still WebP that make up its image; VP8X and metadata chunks do not go into an ANMF frame. */
const IMAGE_CHUNKS = new Set(['ALPH', 'VP8 ', 'VP8L']);
const VP8X_ANIMATION = 0x02;
/** ANMF flags: "do not blend" (frames are opaque and cover the canvas), dispose: none. */
const ANMF_NO_BLEND = 0x02;

/**
 * Encodes JPEG files (paths, oldest first) into ONE animated WebP written to `outFile` (created/truncated, fsynced before resolving).
 * Frames are decoded and encoded one at a time: memory does not grow with the frame count.
 * A frame that cannot be read or decoded is skipped (counted in `skipped`); zero usable frames rejects with an Error whose message says so (and outFile is removed).
 * Frames whose aspect differs from the first are letterboxed (fit: contain, black) to the canvas.
 */
export async function encodeTimelapse(
  frames: Iterable<string> | AsyncIterable<string>,
  outFile: string,
  opts: TimelapseEncodeOptions,
): Promise<TimelapseResult> {
  checkOptions(opts);
  opts.signal?.throwIfAborted();
  return writeWhole(outFile, (out) => writeAnimation(out, frames, opts));
}

/**
 * Writes `outFile` with `write` and fsyncs it. On failure nothing is left behind: half a file is no
 * animation (the RIFF size or the GIF trailer is only right at the end).
 */
export async function writeWhole<T>(outFile: string, write: (out: FileHandle) => Promise<T>): Promise<T> {
  const out = await fsp.open(outFile, 'w');
  try {
    const result = await write(out);
    await out.sync();
    await out.close();
    return result;
  } catch (err) {
    await out.close().catch(() => {});
    await fsp.rm(outFile, { force: true });
    throw err;
  }
}

function checkOptions(opts: TimelapseEncodeOptions): void {
  const check = (name: string, value: number, max: number) => {
    if (!Number.isInteger(value) || value < 1 || value > max) throw new RangeError(`timelapse ${name} must be an integer from 1 to ${max}, got ${value}`);
  };
  check('size', opts.size, MAX_SIDE);
  check('frameMs', opts.frameMs, MAX_FRAME_MS);
  check('quality', opts.quality, 100);
}

async function writeAnimation(out: FileHandle, files: Iterable<string> | AsyncIterable<string>, opts: TimelapseEncodeOptions): Promise<TimelapseResult> {
  let canvas: Canvas | undefined;
  let frames = 0;
  let skipped = 0;
  let bytes = 0;
  let input = -1;
  for await (const file of files) {
    input++;
    opts.signal?.throwIfAborted();
    const still = await encodeFrame(file, canvas, opts);
    if (!still) {
      skipped++;
      continue;
    }
    if (!canvas) {
      canvas = { width: still.width, height: still.height };
      bytes += await writeAll(out, [fileHeader(canvas)]);
    }
    bytes += await writeAll(out, anmfChunk(canvas, opts.frameMs, imageChunks(still.data)));
    if (bytes > MAX_FILE_BYTES) throw new Error(`timelapse exceeds the 4 GiB a WebP file can hold, after ${frames} frames`);
    frames++;
    opts.onFrame?.(input);
  }
  opts.signal?.throwIfAborted();
  if (!canvas) throw new NoFramesError(`timelapse has no usable frames (${skipped} could not be read or decoded)`);
  const riffSize = Buffer.alloc(4);
  riffSize.writeUInt32LE(bytes - 8);
  await out.write(riffSize, 0, 4, 4);
  return { frames, skipped, width: canvas.width, height: canvas.height, bytes };
}

/** One frame as a still WebP; undefined when the file cannot be read or decoded. */
async function encodeFrame(
  file: string,
  canvas: Canvas | undefined,
  opts: TimelapseEncodeOptions,
): Promise<{ data: Buffer; width: number; height: number } | undefined> {
  try {
    const { data, info } = await (await fittedFrame(file, canvas, opts.size)).webp({ quality: opts.quality }).toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height };
  } catch {
    return undefined; // missing, unreadable or not an image: the caller counts it as skipped
  }
}

/**
 * A timelapse frame before encoding: the first decodable frame is fitted into `size` and sets the canvas;
 * later ones are fitted into the canvas, centred on black. Encoding it rejects when the file cannot be read.
 */
export async function fittedFrame(file: string, canvas: Canvas | undefined, size: number) {
  const sharp = await loadSharp();
  // failOn 'truncated' as for captures: a cut-off JPEG would show a grey band; minor warnings are common in
  // camera files. autoOrient: a still stored with an EXIF rotation plays upright, as thumbnails show it.
  const image = sharp(file, { failOn: 'truncated', autoOrient: true });
  const fitted = canvas
    ? image.resize(canvas.width, canvas.height, { fit: 'contain', background: BLACK, withoutEnlargement: true })
    : image.resize(size, size, { fit: 'inside', withoutEnlargement: true });
  // Flattened so every frame is opaque, which is what the VP8X flags, ANMF_NO_BLEND and the GIF frames promise.
  return fitted.flatten({ background: BLACK });
}

/** RIFF header (size patched when done), VP8X (animated, canvas size) and ANIM (black, loop forever). */
function fileHeader(canvas: Canvas): Buffer {
  const b = Buffer.alloc(12 + 18 + 14);
  b.write('RIFF', 0, 'latin1');
  b.write('WEBP', 8, 'latin1');
  b.write('VP8X', 12, 'latin1');
  b.writeUInt32LE(10, 16);
  b[20] = VP8X_ANIMATION;
  b.writeUIntLE(canvas.width - 1, 24, 3);
  b.writeUIntLE(canvas.height - 1, 27, 3);
  b.write('ANIM', 30, 'latin1');
  b.writeUInt32LE(6, 34);
  b.writeUInt32LE(0xff000000, 38); // background as B, G, R, A: opaque black; loop count (42) 0 = forever
  return b;
}

/** An ANMF chunk covering the canvas: its 24-byte header followed by the frame's image chunks. */
function anmfChunk(canvas: Canvas, frameMs: number, image: Buffer[]): Buffer[] {
  const payload = image.reduce((n, c) => n + c.length, 0); // even: every chunk carries its own padding
  const h = Buffer.alloc(24);
  h.write('ANMF', 0, 'latin1');
  h.writeUInt32LE(16 + payload, 4);
  // x/2 and y/2 at 8 and 11 stay 0: the frame starts at the canvas corner
  h.writeUIntLE(canvas.width - 1, 14, 3);
  h.writeUIntLE(canvas.height - 1, 17, 3);
  h.writeUIntLE(frameMs, 20, 3);
  h[23] = ANMF_NO_BLEND;
  return [h, ...image];
}

/** The image chunks of a still WebP, each with its padding byte, as views into `webp`. */
function imageChunks(webp: Buffer): Buffer[] {
  if (webp.toString('latin1', 0, 4) !== 'RIFF' || webp.toString('latin1', 8, 12) !== 'WEBP') throw new Error('sharp did not return a WebP file');
  const chunks: Buffer[] = [];
  for (let at = 12; at + 8 <= webp.length;) {
    const size = webp.readUInt32LE(at + 4);
    const end = at + 8 + size + (size & 1);
    if (end > webp.length) throw new Error('sharp returned a truncated WebP file');
    if (IMAGE_CHUNKS.has(webp.toString('latin1', at, at + 4))) chunks.push(webp.subarray(at, end));
    at = end;
  }
  if (chunks.length === 0) throw new Error('sharp returned a WebP file without an image');
  return chunks;
}

/**
 * Appends `buffers`. writev may write less than asked (a nearly full disk): the rest is written again, so that a full disk
 * ends in the ENOSPC error the store reports as disk_full, not in a short file.
 */
export async function writeAll(out: FileHandle, buffers: Buffer[]): Promise<number> {
  const expected = buffers.reduce((n, b) => n + b.length, 0);
  let rest = Buffer.concat(buffers);
  while (rest.length > 0) {
    const { bytesWritten } = await out.write(rest, 0, rest.length);
    if (bytesWritten === 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' });
    rest = rest.subarray(bytesWritten);
  }
  return expected;
}
