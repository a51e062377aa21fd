import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { setExifOrientation } from '../../src/capture/orientation.ts';
import { makeJpeg } from '../helpers/setup.ts';

/** An APP1 Exif segment whose IFD0 holds only Make (no Orientation), in either byte order. */
function exifWithoutOrientation(littleEndian: boolean): Buffer {
  const tiff = Buffer.alloc(8 + 2 + 12 + 4 + 8);
  const w16 = (v: number, o: number) => (littleEndian ? tiff.writeUInt16LE(v, o) : tiff.writeUInt16BE(v, o));
  const w32 = (v: number, o: number) => (littleEndian ? tiff.writeUInt32LE(v, o) : tiff.writeUInt32BE(v, o));
  tiff.write(littleEndian ? 'II' : 'MM', 0, 'latin1');
  w16(42, 2);
  w32(8, 4);
  w16(1, 8);
  w16(0x010f, 10); // Make
  w16(2, 12); // ASCII
  w32(8, 14);
  w32(26, 18); // value offset
  w32(0, 22);
  tiff.write('RaspPi\0\0', 26, 'latin1');
  const body = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  const head = Buffer.from([0xff, 0xe1, 0, 0]);
  head.writeUInt16BE(body.length + 2, 2);
  return Buffer.concat([head, body]);
}

function stripApp(jpeg: Buffer): Buffer {
  // Keep SOI, drop leading APPn segments.
  let pos = 2;
  while (jpeg[pos] === 0xff && jpeg[pos + 1]! >= 0xe0 && jpeg[pos + 1]! <= 0xef) pos += 2 + jpeg.readUInt16BE(pos + 2);
  return Buffer.concat([jpeg.subarray(0, 2), jpeg.subarray(pos)]);
}

describe('EXIF orientation (lossless rotation)', () => {
  test('adds an EXIF segment to a JPEG without one', async () => {
    const bare = stripApp(await makeJpeg(40, 20));
    const out = setExifOrientation(bare, 6);
    assert.equal((await sharp(out).metadata()).orientation, 6);
    assert.ok(out.subarray(out.length - (bare.length - 2)).equals(bare.subarray(2)), 'everything after SOI is unchanged');
    const upright = await sharp(out).rotate().toBuffer({ resolveWithObject: true });
    assert.deepEqual([upright.info.width, upright.info.height], [20, 40]);
  });

  for (const le of [true, false]) {
    test(`adds Orientation to an existing IFD0 without one (${le ? 'little' : 'big'} endian), keeping other tags`, async () => {
      const bare = stripApp(await makeJpeg(40, 20));
      const withExif = Buffer.concat([bare.subarray(0, 2), exifWithoutOrientation(le), bare.subarray(2)]);
      assert.equal((await sharp(withExif).metadata()).orientation, undefined);
      const out = setExifOrientation(withExif, 8);
      const meta = await sharp(out).metadata();
      assert.equal(meta.orientation, 8);
      assert.ok(meta.exif?.includes(Buffer.from('RaspPi')), 'Make survives');
      assert.ok(out.subarray(out.length - (bare.length - 2)).equals(bare.subarray(2)), 'image data unchanged');
    });
  }

  test('patches an existing Orientation in place (same length)', async () => {
    const jpeg = await sharp({ create: { width: 40, height: 20, channels: 3, background: 'red' } })
      .jpeg()
      .withMetadata({ orientation: 3 })
      .toBuffer();
    const out = setExifOrientation(jpeg, 6);
    assert.equal(out.length, jpeg.length);
    assert.equal((await sharp(out).metadata()).orientation, 6);
  });

  test('rejects non-JPEG input', () => {
    assert.throws(() => setExifOrientation(Buffer.from('hello'), 6), /not a JPEG/);
  });
});
