// Solid-colour JPEG frames and pixel reads for the timelapse encoder tests (WebP and GIF).
import path from 'node:path';
import sharp from 'sharp';

export type Rgb = [number, number, number];

/** Writes solid-colour JPEGs into `dir` (quality 95), each under a new name; `orientation` sets the EXIF tag. */
export function jpegMaker(dir: string): (width: number, height: number, colour: Rgb, orientation?: number) => Promise<string> {
  let seq = 0;
  return async (width, height, colour, orientation) => {
    const file = path.join(dir, `frame-${seq++}.jpg`);
    const image = sharp({ create: { width, height, channels: 3, background: { r: colour[0], g: colour[1], b: colour[2] } } }).jpeg({ quality: 95 });
    await (orientation ? image.withMetadata({ orientation }) : image).toFile(file);
    return file;
  };
}

/** The RGB of one pixel of one page (frame) of an image file. */
export async function pixel(file: string, page: number, x: number, y: number): Promise<Rgb> {
  const { data, info } = await sharp(file, { page }).raw().toBuffer({ resolveWithObject: true });
  const o = (y * info.width + x) * info.channels;
  return [data[o]!, data[o + 1]!, data[o + 2]!];
}
