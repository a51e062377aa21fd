// What is stored as "the original": the camera's bytes, checked, with the rotation it could not do set in EXIF.
import { validateJpeg, type JpegInfo } from '../camera/jpeg.ts';
import type { Shot } from '../camera/types.ts';
import { ORIENTATION_FOR_ROTATION, setExifOrientation } from './orientation.ts';

/** Throws CameraError('corrupt') for an incomplete JPEG. `info` is the coded (camera) size. */
export function originalOf(still: Shot): { jpeg: Buffer; info: JpegInfo } {
  const info = validateJpeg(still.jpeg);
  const jpeg = still.rotate ? setExifOrientation(still.jpeg, ORIENTATION_FOR_ROTATION[still.rotate]) : still.jpeg;
  return { jpeg, info };
}
