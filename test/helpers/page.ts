// The page in Chromium: a daemon with a password and a seeded store (the real photo fixture), the browser,
// login. Shared by the page tests, `npm run screenshots` and the page bench.
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { setPassword } from '../../src/auth/password.ts';
import type { AppDeps } from '../../src/app.ts';
import type { Camera } from '../../src/camera/types.ts';
import type { CaptureStore, Still } from '../../src/storage/store.ts';
import { startDaemon, type Daemon } from './mqtt.ts';
import { GARDEN_8MP, tempDir } from './setup.ts';
import { recorded } from '../storage/helpers.ts';

export { launch } from './chromium.ts';

export const PAGE_PASSWORD = 'page-secret-1';
export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1440, height: 900 };
export const SIZES = { phone: PHONE, desktop: DESKTOP } as const;

/** The photo fixture at a few sizes and brightnesses (by hour: night, dawn, day), made once per process. */
let photos: Promise<Array<{ original: Buffer; thumb: Buffer; preview: Buffer }>> | undefined;
export function photoVariants() {
  photos ??= Promise.all(
    [0.35, 0.6, 0.85, 1, 1.1].map(async (brightness) => {
      const base = sharp(GARDEN_8MP).modulate({ brightness });
      const [original, preview, thumb] = await Promise.all([
        base.clone().resize(1600).jpeg({ quality: 85 }).toBuffer(),
        base.clone().resize(1280).jpeg({ quality: 80 }).toBuffer(),
        base.clone().resize(480).jpeg({ quality: 75 }).toBuffer(),
      ]);
      return { original, thumb, preview };
    }),
  );
  return photos;
}

const variantOfHour = (hour: number) => (hour < 6 || hour >= 21 ? 0 : hour < 8 || hour >= 19 ? 1 : hour < 10 || hour >= 17 ? 2 : hour < 12 ? 3 : 4);

/**
 * Files stills at the given instants (the photo, brighter by day), with a scene change score each:
 * `changeAt(i)` (default: every seventh still changed by 30 %).
 */
export async function seedStills(store: CaptureStore, instants: Date[], changeAt: (i: number) => number = (i) => (i % 7 === 3 ? 30 : 1)): Promise<Still[]> {
  const variants = await photoVariants();
  const saved: Still[] = [];
  for (const [i, at] of instants.entries()) {
    const v = variants[variantOfHour(store.clock.local(at).hour)]!;
    saved.push(
      await store.save({
        capturedAt: at,
        ...v,
        meta: recorded({ trigger: 'schedule', change: changeAt(i), width: 1280, height: 960, full_width: 1600, full_height: 1200 }),
      }),
    );
  }
  return saved;
}

/** Instants every `everyMin` minutes from `from`, `count` of them. */
export function every(from: Date, everyMin: number, count: number): Date[] {
  return Array.from({ length: count }, (_, i) => new Date(from.getTime() + i * everyMin * 60_000));
}

export interface PageDaemon {
  daemon: Daemon;
  dataDir: string;
  stop(): Promise<void>;
}

/** A daemon with the page's password, the photo as its camera (unless MONCAM_CAMERA_BACKEND), no visit stills unless asked. */
export async function pageDaemon(env: Record<string, string> = {}, extra: Partial<AppDeps> & { camera?: Camera } = {}): Promise<PageDaemon> {
  const dataDir = tempDir('moncam-page-');
  await setPassword(path.join(dataDir, 'private', 'pass_user'), PAGE_PASSWORD);
  const photo = (await photoVariants())[3]!.original;
  // A named backend (MONCAM_CAMERA_BACKEND) is probed as the daemon would; else the photo is the camera.
  const probe = env.MONCAM_CAMERA_BACKEND !== undefined;
  const camera: Camera = extra.camera ?? { backend: 'instant', description: 'the photo fixture', capture: async () => ({ jpeg: photo }) };
  const daemon = await startDaemon(
    camera,
    { MONCAM_DATA_DIR: dataDir, MONCAM_WEB_FRESH_ON_VISIT: 'false', MONCAM_BROKER_ENABLED: 'false', ...env },
    probe ? { ...extra, camera: undefined } : extra,
  );
  return {
    daemon,
    dataDir,
    stop: async () => {
      await daemon.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Logs in through the form and waits for the page to have loaded its day. */
export async function login(page: Page, base: string): Promise<void> {
  await page.goto(`${base}/`);
  await page.fill('#password', PAGE_PASSWORD);
  await Promise.all([page.waitForURL(`${base}/`), page.click('button[type=submit]')]);
  await page.waitForSelector('html[data-ready]');
}

/** A logged-in page in a fresh context of the given size and colour scheme. */
export async function openPage(
  browser: Browser,
  base: string,
  opts: { size?: { width: number; height: number }; colorScheme?: 'light' | 'dark'; mobile?: boolean } = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const size = opts.size ?? DESKTOP;
  const mobile = opts.mobile ?? size.width < 600;
  const context = await browser.newContext({
    viewport: size,
    colorScheme: opts.colorScheme ?? 'light',
    ...(mobile ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}),
  });
  const page = await context.newPage();
  await login(page, base);
  return { context, page };
}

/** `status` of /api/state as the health service reports it (src/health/status.ts), for injecting. */
export function statusOf(over: Record<string, unknown> = {}) {
  return {
    backend: 'rpicam',
    synthetic: false,
    state: 'ok',
    stale: false,
    reason: null,
    advice: null,
    latest_at: new Date(Date.now() - 3 * 60_000).toISOString(),
    next_at: new Date(Date.now() + 17 * 60_000).toISOString(),
    free_bytes: 12.4e9,
    stills_kept: 40,
    last_error: null,
    ...over,
  };
}

/** /api/state answered with `status` replaced, as if the daemon's health said so. */
export async function injectStatus(page: Page, status: object): Promise<void> {
  await page.route('**/api/state', async (route) => {
    const res = await route.fetch();
    await route.fulfill({ response: res, json: { ...((await res.json()) as object), status } });
  });
}
