// Cheap structural JPEG check: the camera's exit code is not enough (a crash can leave a truncated file).
import { CameraError } from './types.ts';

export interface JpegInfo {
  width: number;
  height: number;
}

const SOF = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

/** Validates SOI, a frame header and the EOI marker; returns the coded size. Throws CameraError('corrupt'). */
export function validateJpeg(buf: Buffer): JpegInfo {
  const corrupt = (why: string) => new CameraError('corrupt', `camera output is not a complete JPEG: ${why}`, { detail: `${buf.length} bytes` });
  if (buf.length < 4 || buf[0] !== 0xff || buf[1] !== 0xd8) throw corrupt(buf.length === 0 ? 'empty output' : 'no JPEG start marker');
  // Some encoders pad after EOI; accept up to 64 bytes of 0x00/0xFF padding.
  let eoi = false;
  for (let j = buf.length - 2; j >= Math.max(2, buf.length - 66); j--) {
    if (buf[j] === 0xff && buf[j + 1] === 0xd9) {
      eoi = true;
      break;
    }
    if (buf[j + 1] !== 0x00 && buf[j + 1] !== 0xff) break;
  }
  if (!eoi) throw corrupt('no JPEG end marker (truncated)');
  let i = 2;
  while (i + 4 <= buf.length) {
    if (buf[i] !== 0xff) throw corrupt(`bad marker at byte ${i}`);
    const marker = buf[i + 1]!;
    if (marker === 0xff) {
      i++;
      continue;
    }
    const len = buf.readUInt16BE(i + 2);
    if (SOF.has(marker)) {
      if (i + 9 > buf.length) break;
      const height = buf.readUInt16BE(i + 5);
      const width = buf.readUInt16BE(i + 7);
      if (!width || !height) throw corrupt('zero image size');
      return { width, height };
    }
    if (marker === 0xda) break; // scan data before a frame header
    i += 2 + len;
  }
  throw corrupt('no frame header');
}
