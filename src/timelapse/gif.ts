// Animated GIF timelapse, for what cannot show the WebP: Home Assistant's phone notifications attach
// JPEG, PNG or GIF up to 10 MB. Built like webp.ts, one frame in memory at a time: sharp quantises each
// frame into a still GIF (its own 256-colour palette), whose image block goes straight into the animation
// with that palette as the frame's local colour table (GIF89a: header, logical screen, NETSCAPE2.0 loop,
// then a graphic control extension and an image per frame). sharp's animated GIF would hold the whole
// day as one tall image, as its animated WebP does (see webp.ts).
//
// Why stills are left out: a 320-px camera frame is ~80 KB as GIF (sensor noise defeats LZW), so 288
// stills would make ~23 MB. The size is bounded by picking evenly spaced stills, re-planned after every
// frame from the average frame so far, and a frame that would cross the bound is never written.
import type { FileHandle } from 'node:fs/promises';
import { fittedFrame, NoFramesError, writeAll, writeWhole, type Canvas } from './webp.ts';

/** Under the 10 MB Home Assistant's notifications take, with room for the trailer and rounding. */
export const GIF_MAX_BYTES = 9_500_000;
/** GIF stores sizes in 16 bits. */
const MAX_SIDE = 0xffff;
/** libimagequant effort: 1 is ~4x faster than sharp's default 7 for ~2% more bytes (a Pi Zero builds the day's GIF). */
const EFFORT = 1;
const TRAILER = Buffer.from([0x3b]);

export interface GifEncodeOptions {
  /** Longest edge of the frames in pixels (never enlarged; later frames are letterboxed to the first's canvas). */
  size: number;
  /** Display time of each frame in ms (GIF counts in 1/100 s, at least 2). */
  frameMs: number;
  /** The file never grows past this; stills are left out, evenly, to stay under it. */
  maxBytes?: number;
  signal?: AbortSignal;
  /** Told the input index of each file that became a frame, in frame order. */
  onFrame?: (input: number) => void;
}

export interface GifResult {
  frames: number;
  /** Files that could not be read or decoded. */
  skipped: number;
  /** Stills left out to stay under maxBytes. */
  left_out: number;
  width: number;
  height: number;
  bytes: number;
}

interface Frame {
  width: number;
  height: number;
  /** Local colour table flag and size bits for the image descriptor's packed byte. */
  tableFlags: number;
  table: Buffer;
  /** LZW minimum code size and the image's data sub-blocks, with their terminator. */
  data: Buffer;
}

/**
 * Encodes JPEG files (paths, oldest first) into ONE animated GIF at `outFile` (fsynced; removed on failure).
 * A file that cannot be decoded is skipped; no usable frame rejects with NoFramesError.
 */
export async function encodeGif(files: readonly string[], outFile: string, opts: GifEncodeOptions): Promise<GifResult> {
  if (!Number.isInteger(opts.size) || opts.size < 1 || opts.size > MAX_SIDE) throw new RangeError(`GIF size must be an integer from 1 to ${MAX_SIDE}`);
  if (!Number.isInteger(opts.frameMs) || opts.frameMs < 1) throw new RangeError('GIF frameMs must be a positive integer');
  const maxBytes = opts.maxBytes ?? GIF_MAX_BYTES;
  opts.signal?.throwIfAborted();
  return writeWhole(outFile, (out) => writeAnimation(out, files, opts, maxBytes));
}

async function writeAnimation(out: FileHandle, files: readonly string[], opts: GifEncodeOptions, maxBytes: number): Promise<GifResult> {
  const delay = Math.max(2, Math.round(opts.frameMs / 10));
  let canvas: Canvas | undefined;
  let bytes = 0;
  let frames = 0;
  let frameBytes = 0;
  let skipped = 0;
  let i = 0;
  while (i < files.length) {
    opts.signal?.throwIfAborted();
    const frame = await encodeFrame(files[i]!, canvas, opts.size);
    if (!frame) {
      skipped++;
      i++;
      continue;
    }
    if (!canvas) {
      canvas = { width: frame.width, height: frame.height };
      const header = fileHeader(canvas);
      if (header.length + TRAILER.length > maxBytes) throw new RangeError(`GIF maxBytes ${maxBytes} cannot hold a header`);
      bytes += await writeAll(out, [header]);
    }
    const chunk = frameChunk(frame, delay);
    const size = chunk.reduce((n, b) => n + b.length, 0);
    if (bytes + size + TRAILER.length > maxBytes) {
      if (frames === 0) throw new NoFramesError(`not even one GIF frame fits in ${maxBytes} bytes`);
      break;
    }
    bytes += await writeAll(out, chunk);
    frames++;
    frameBytes += size;
    opts.onFrame?.(i);
    i = nextInput(i, files.length, (maxBytes - bytes - TRAILER.length) / (frameBytes / frames));
  }
  opts.signal?.throwIfAborted();
  if (!canvas) throw new NoFramesError(`timelapse has no usable frames (${skipped} could not be read or decoded)`);
  bytes += await writeAll(out, [TRAILER]);
  return { frames, skipped, left_out: files.length - frames - skipped, width: canvas.width, height: canvas.height, bytes };
}

/**
 * The next input to use after `i`: the next one while the budget holds all that are left, else evenly
 * spaced so that the frames that still fit (`slots`, by the average frame so far) reach the last still.
 */
export function nextInput(i: number, count: number, slots: number): number {
  const left = count - i - 1;
  const fit = Math.floor(slots);
  if (left <= 0) return count;
  if (fit >= left) return i + 1;
  if (fit <= 0) return count;
  return i + Math.ceil(left / fit);
}

async function encodeFrame(file: string, canvas: Canvas | undefined, size: number): Promise<Frame | undefined> {
  let gif: Buffer;
  try {
    gif = await (await fittedFrame(file, canvas, size)).gif({ effort: EFFORT }).toBuffer();
  } catch {
    return undefined; // missing, unreadable or not an image: the caller counts it as skipped
  }
  return parseStill(gif);
}

/** The image of a still GIF as sharp writes it: its palette (global or local) and its LZW data. */
export function parseStill(gif: Buffer): Frame {
  const bad = (why: string) => new Error(`sharp returned a GIF that cannot be read: ${why}`);
  if (gif.length < 13 || !gif.toString('latin1', 0, 6).startsWith('GIF8')) throw bad('no GIF header');
  const screenFlags = gif[10]!;
  let at = 13;
  let table: Buffer = Buffer.alloc(0);
  let tableFlags = 0;
  if (screenFlags & 0x80) {
    const len = 3 * (2 << (screenFlags & 7));
    table = gif.subarray(at, at + len);
    tableFlags = 0x80 | (screenFlags & 7);
    at += len;
  }
  while (at < gif.length) {
    const kind = gif[at];
    if (kind === 0x21) {
      at = skipSubBlocks(gif, at + 2); // extension: introducer, label, sub-blocks
    } else if (kind === 0x2c) {
      if (at + 10 > gif.length) throw bad('short image descriptor');
      const width = gif.readUInt16LE(at + 5);
      const height = gif.readUInt16LE(at + 7);
      const flags = gif[at + 9]!;
      if (flags & 0x40) throw bad('interlaced image');
      at += 10;
      if (flags & 0x80) {
        const len = 3 * (2 << (flags & 7));
        table = gif.subarray(at, at + len);
        tableFlags = 0x80 | (flags & 7);
        at += len;
      }
      if (tableFlags === 0) throw bad('no colour table');
      const end = skipSubBlocks(gif, at + 1); // LZW minimum code size, then the data
      return { width, height, tableFlags, table, data: gif.subarray(at, end) };
    } else {
      throw bad(`unexpected block 0x${(kind ?? 0).toString(16)}`);
    }
  }
  throw bad('no image');
}

/** The offset after a run of sub-blocks starting at `at` (each a length byte and data; 0 ends it). */
function skipSubBlocks(gif: Buffer, at: number): number {
  for (;;) {
    if (at >= gif.length) throw new Error('sharp returned a truncated GIF');
    const len = gif[at]!;
    at += 1 + len;
    if (len === 0) return at;
  }
}

/** GIF89a header, a logical screen of the canvas size without a global palette, and "loop forever". */
function fileHeader(canvas: Canvas): Buffer {
  const b = Buffer.alloc(13 + 19);
  b.write('GIF89a', 0, 'latin1');
  b.writeUInt16LE(canvas.width, 6);
  b.writeUInt16LE(canvas.height, 8);
  // flags, background index and aspect (10..12) stay 0: no global colour table
  b.set([0x21, 0xff, 0x0b], 13);
  b.write('NETSCAPE2.0', 16, 'latin1');
  b.set([0x03, 0x01, 0x00, 0x00, 0x00], 27); // sub-block: loop count 0 (forever), then the terminator
  return b;
}

/** A graphic control extension (delay, no transparency, dispose: none) and the frame at the canvas corner. */
function frameChunk(frame: Frame, delay: number): Buffer[] {
  const gce = Buffer.from([0x21, 0xf9, 0x04, 0x04, delay & 0xff, delay >> 8, 0x00, 0x00]);
  const descriptor = Buffer.alloc(10);
  descriptor[0] = 0x2c;
  descriptor.writeUInt16LE(frame.width, 5);
  descriptor.writeUInt16LE(frame.height, 7);
  descriptor[9] = frame.tableFlags;
  return [gce, descriptor, frame.table, frame.data];
}
