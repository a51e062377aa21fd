// The sensor's full size from `rpicam-still --list-cameras`, the default still size when camera.width and
// camera.height are not set (Camera Module 3 / IMX708: 4608x2592, HQ camera / IMX477: 4056x3040).
//
// Output format, as printed by raspberrypi/rpicam-apps core/options.cpp (Options::Parse, list_cameras):
//   Available cameras
//   -----------------
//   0 : imx477 [4056x3040 12-bit RGGB] (/base/axi/pcie@1000120000/rp1/i2c@80000/imx477@1a)
//       Modes: 'SRGGB10_CSI2P' : 1332x990 [169.87 fps - (696, 528)/2664x1980 crop]
//              'SRGGB12_CSI2P' : 2028x1080 [105.95 fps - (0, 440)/4056x2160 crop]
//                                4056x3040 [19.53 fps - (0, 0)/4056x3040 crop]
// The size in the header's brackets is PixelArrayActiveAreas[0] (left out when the sensor does not report
// it); each mode is a sensor output size, followed by "[fps - crop]" (older libcamera-apps printed the sizes
// alone). Modes may be a little larger than the active area (IMX585: 3856x2180 on a 3840x2160 array), and
// with `--hdr` on an IMX708 only the 2304x1296 HDR mode is listed: the HDR control is set before listing.
import type { StillRequest } from './types.ts';

export interface Size {
  width: number;
  height: number;
}

export interface SensorInfo {
  index: number;
  model: string;
  /** The active pixel area, when listed. */
  active?: Size;
  modes: Size[];
}

const HEADER = /^\s*(\d+)\s*:\s*(\S+)\s*(?:\[([^\]]*)\])?/;
const SIZE = /\b(\d{2,5})x(\d{2,5})\b/g;

/** Every camera `--list-cameras` printed, with its active area and sensor modes. */
export function parseListCameras(text: string): SensorInfo[] {
  const sensors: SensorInfo[] = [];
  for (const line of text.split('\n')) {
    const header = HEADER.exec(line);
    if (header && !line.includes('Modes:') && !/^\s*'/.test(line)) {
      const area = header[3] ? /^(\d+)x(\d+)\b/.exec(header[3].trim()) : null;
      sensors.push({
        index: Number(header[1]),
        model: header[2]!,
        ...(area ? { active: { width: Number(area[1]), height: Number(area[2]) } } : {}),
        modes: [],
      });
      continue;
    }
    const current = sensors.at(-1);
    if (!current) continue;
    // Brackets hold fps and the crop rectangle (whose size is not a mode); what is left are the mode sizes.
    const sizes = line.replace(/\[[^\]]*\]/g, ' ').replace(/'[^']*'/g, ' ');
    for (const m of sizes.matchAll(SIZE)) current.modes.push({ width: Number(m[1]), height: Number(m[2]) });
  }
  return sensors;
}

/**
 * The largest still the sensor gives as it is configured: its largest mode, within the active area.
 * Undefined when nothing usable was listed.
 */
export function fullSize(sensor: SensorInfo): Size | undefined {
  const largest = sensor.modes.reduce<Size | undefined>((best, m) => (!best || m.width * m.height > best.width * best.height ? m : best), undefined);
  if (!largest) return sensor.active;
  if (!sensor.active) return largest;
  return { width: Math.min(largest.width, sensor.active.width), height: Math.min(largest.height, sensor.active.height) };
}

/** The camera rpicam-still uses: `--camera N` in camera.extra_args, else 0. */
export function cameraIndex(extraArgs: readonly string[]): number {
  for (let i = 0; i < extraArgs.length; i++) {
    const a = extraArgs[i]!;
    const value = a === '--camera' ? extraArgs[i + 1] : a.startsWith('--camera=') ? a.slice('--camera='.length) : undefined;
    if (value !== undefined && /^\d+$/.test(value)) return Number(value);
  }
  return 0;
}

/**
 * The request with the sensor's size where camera.width/height are not set: both unset -> the full size;
 * one set -> the other from the sensor's aspect ratio (even, as the ISP wants); both set -> unchanged.
 */
export function withSensorSize(req: StillRequest, size: Size | undefined): StillRequest {
  if (!size || (req.width && req.height)) return req;
  if (!req.width && !req.height) return { ...req, width: size.width, height: size.height };
  const even = (n: number) => Math.max(16, 2 * Math.round(n / 2));
  if (req.width) return { ...req, height: even((req.width * size.height) / size.width) };
  return { ...req, width: even((req.height! * size.width) / size.height) };
}
