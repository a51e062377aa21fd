// Lossless 90/270 rotation: set the EXIF Orientation tag and leave the image data untouched.
// rpicam-still only rotates 0/180, and re-encoding an 8 MP still to turn it would cost quality.
// (piexifjs would do this but is unmaintained and works on binary strings; this patches only IFD0.)

const ORIENTATION_TAG = 0x0112;
const EXIF_HEADER = Buffer.from('Exif\0\0', 'latin1');

/** EXIF orientation values for clockwise rotations. */
export const ORIENTATION_FOR_ROTATION = { 0: 1, 90: 6, 180: 3, 270: 8 } as const;

function segment(marker: number, body: Buffer): Buffer {
  if (body.length + 2 > 0xffff) throw new Error('EXIF segment would exceed 64 KiB');
  const head = Buffer.alloc(4);
  head.writeUInt16BE(0xff00 | marker, 0);
  head.writeUInt16BE(body.length + 2, 2);
  return Buffer.concat([head, body]);
}

function minimalExif(orientation: number): Buffer {
  const tiff = Buffer.alloc(8 + 2 + 12 + 4);
  tiff.write('MM', 0, 'latin1');
  tiff.writeUInt16BE(42, 2);
  tiff.writeUInt32BE(8, 4);
  tiff.writeUInt16BE(1, 8);
  tiff.writeUInt16BE(ORIENTATION_TAG, 10);
  tiff.writeUInt16BE(3, 12); // SHORT
  tiff.writeUInt32BE(1, 14);
  tiff.writeUInt16BE(orientation, 18);
  tiff.writeUInt32BE(0, 22); // no next IFD
  return Buffer.concat([EXIF_HEADER, tiff]);
}

/** Returns a TIFF block with Orientation set: patched in place, or IFD0 re-written at the end with one more entry. */
function withOrientation(tiffIn: Buffer, orientation: number): Buffer {
  const le = tiffIn.toString('latin1', 0, 2) === 'II';
  if (!le && tiffIn.toString('latin1', 0, 2) !== 'MM') throw new Error('EXIF: bad byte order');
  const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const w16 = (b: Buffer, v: number, o: number) => (le ? b.writeUInt16LE(v, o) : b.writeUInt16BE(v, o));
  const w32 = (b: Buffer, v: number, o: number) => (le ? b.writeUInt32LE(v, o) : b.writeUInt32BE(v, o));

  const ifd0 = u32(tiffIn, 4);
  const count = u16(tiffIn, ifd0);
  if (ifd0 + 2 + count * 12 + 4 > tiffIn.length) throw new Error('EXIF: IFD0 out of bounds');
  const entries: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const at = ifd0 + 2 + i * 12;
    if (u16(tiffIn, at) === ORIENTATION_TAG && u16(tiffIn, at + 2) === 3 && u32(tiffIn, at + 4) === 1) {
      const tiff = Buffer.from(tiffIn);
      w16(tiff, orientation, at + 8);
      return tiff;
    }
    entries.push(tiffIn.subarray(at, at + 12));
  }
  const entry = Buffer.alloc(12);
  w16(entry, ORIENTATION_TAG, 0);
  w16(entry, 3, 2);
  w32(entry, 1, 4);
  w16(entry, orientation, 8);
  entries.push(entry);
  entries.sort((a, b) => u16(a, 0) - u16(b, 0)); // TIFF wants tags ascending

  const start = tiffIn.length + (tiffIn.length % 2); // IFDs start on a word boundary
  const ifd = Buffer.alloc(2 + entries.length * 12 + 4);
  w16(ifd, entries.length, 0);
  entries.forEach((e, i) => e.copy(ifd, 2 + i * 12));
  w32(ifd, u32(tiffIn, ifd0 + 2 + count * 12), 2 + entries.length * 12); // keep the link to IFD1
  const tiff = Buffer.concat([tiffIn, Buffer.alloc(start - tiffIn.length), ifd]);
  w32(tiff, start, 4);
  return tiff;
}

/**
 * Sets EXIF Orientation (1..8) on a JPEG without touching its image data.
 * The old IFD0 is left in place unreferenced when a tag has to be added.
 */
export function setExifOrientation(jpeg: Buffer, orientation: number): Buffer {
  if (jpeg[0] !== 0xff || jpeg[1] !== 0xd8) throw new Error('not a JPEG');
  let pos = 2;
  let insertAt = 2;
  while (pos + 4 <= jpeg.length && jpeg[pos] === 0xff) {
    const marker = jpeg[pos + 1]!;
    if (marker < 0xe0 || marker > 0xef) break; // EXIF lives among the leading APPn segments
    const len = jpeg.readUInt16BE(pos + 2);
    const body = jpeg.subarray(pos + 4, pos + 2 + len);
    if (marker === 0xe1 && body.subarray(0, 6).equals(EXIF_HEADER)) {
      const tiff = withOrientation(body.subarray(6), orientation);
      return Buffer.concat([jpeg.subarray(0, pos), segment(0xe1, Buffer.concat([EXIF_HEADER, tiff])), jpeg.subarray(pos + 2 + len)]);
    }
    if (marker === 0xe0) insertAt = pos + 2 + len; // JFIF must stay first
    pos += 2 + len;
  }
  return Buffer.concat([jpeg.subarray(0, insertAt), segment(0xe1, minimalExif(orientation)), jpeg.subarray(insertAt)]);
}
