// Real headless Chromium for the page's modules: a daemon with seeded stills, a logged-in page, and the
// modules imported from the app's own /assets under its own CSP (so a CSP problem shows up as a test failure).
import assert from 'node:assert/strict';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { setPassword } from '../../src/auth/password.ts';
import { recorded } from '../storage/helpers.ts';
import { instantCamera, startDaemon, type Daemon } from './mqtt.ts';
import { makeJpeg, notNearMidnight, tempDir } from './setup.ts';

export { launch } from './chromium.ts';

export const PASSWORD = 'viewer-secret-1';

export const SIZES = [
  { name: 'phone', viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true },
  { name: 'desktop', viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1, isMobile: false, hasTouch: false },
] as const;

/** A daemon whose day holds one still per colour, 3 s apart, oldest first (thumbs and previews in that colour). */
export async function seededDaemon(colours: string[], env: Record<string, string> = {}): Promise<Daemon> {
  await notNearMidnight(60_000); // the tests that follow are about today's stills
  const dataDir = tempDir();
  await setPassword(path.join(dataDir, 'private', 'pass_user'), PASSWORD);
  const daemon = await startDaemon(instantCamera(await makeJpeg(800, 600)), {
    MONCAM_DATA_DIR: dataDir,
    MONCAM_BROKER_ENABLED: 'false',
    MONCAM_WEB_FRESH_ON_VISIT: 'false',
    ...env,
  });
  // Within today (local midnight would split them across days): minutes before now, or after midnight.
  const now = Date.now();
  const start = Math.max(now - colours.length * 60_000, startOfToday(daemon, now) + 1000);
  for (const [i, colour] of colours.entries()) {
    await daemon.app.store.save({
      capturedAt: new Date(start + i * 3000),
      original: await makeJpeg(1600, 1200, colour),
      thumb: await makeJpeg(480, 360, colour),
      preview: await makeJpeg(1280, 960, colour),
      meta: recorded({ trigger: 'schedule' }),
    });
  }
  return daemon;
}

/** The first minute of the daemon's local today, in ms. */
export function startOfToday(daemon: Daemon, now: number): number {
  const today = daemon.app.clock.day(new Date(now));
  let t = now;
  while (daemon.app.clock.day(new Date(t - 60_000)) === today) t -= 60_000;
  return t;
}

/** A logged-in page at `/`, collecting CSP violations reported on its console (and uncaught page errors). */
export async function loggedIn(context: BrowserContext, base: string): Promise<{ page: Page; problems: string[] }> {
  const page = await context.newPage();
  page.setDefaultTimeout(5000);
  // tsx keeps function names by wrapping them in __name(), which then runs inside page.evaluate too.
  await page.addInitScript('window.__name = (f) => f');
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  (page as any).problems = problems;
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) problems.push(m.text());
  });
  await page.goto(`${base}/login`);
  await page.fill('#password', PASSWORD);
  // The login runs argon2 (queued, deliberately slow): more than the 5 s above on a loaded machine.
  await page.click('button[type=submit]', { timeout: 30_000 });
  await page.waitForURL(`${base}/`, { timeout: 30_000 });
  return { page, problems };
}

/** Imports the modules from /assets into the page (as the page's own script would) and loads today's stills as `window.stills`. */
export async function importModules(page: Page): Promise<void> {
  await page.evaluate(async () => {
    const w = window as any;
    w.viewer = await import('/assets/viewer.js' as string);
    w.player = await import('/assets/player.js' as string);
    const state = await (await fetch('/api/state')).json();
    const day = await (await fetch(`/api/days/${state.today}`)).json();
    w.day = day;
    w.stills = day.hours.flatMap((h: any) => h.captures);
  });
  const count = await page.evaluate(() => (window as any).stills.length);
  assert.ok(count > 0, 'seeded stills are listed');
}

/**
 * WCAG contrast ratio of each selector's text against the background it is drawn on (the nearest opaque
 * background colour up its ancestors; the page's is white when none is set). Opaque colours only.
 */
export async function contrasts(page: Page, selectors: string[], property: 'color' | 'outlineColor' = 'color'): Promise<Record<string, number>> {
  return page.evaluate(
    ({ selectors, property }) => {
      const rgb = (c: string) => (c.match(/[\d.]+/g) ?? []).map(Number);
      const lum = (c: number[]) => {
        const [r, g, b] = c.slice(0, 3).map((v) => {
          const s = v / 255;
          return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
        });
        return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
      };
      const out: Record<string, number> = {};
      for (const sel of selectors) {
        const el = document.querySelector(sel);
        if (!el) throw new Error(`no ${sel}`);
        const fg = rgb(getComputedStyle(el)[property]);
        let bg = [255, 255, 255];
        for (let n: Element | null = property === 'color' ? el : el.parentElement; n; n = n.parentElement) {
          const c = rgb(getComputedStyle(n).backgroundColor);
          if (c.length === 3 || (c.length === 4 && c[3]! > 0)) {
            bg = c;
            break;
          }
        }
        const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
        out[sel] = Math.round(((a! + 0.05) / (b! + 0.05)) * 100) / 100;
      }
      return out;
    },
    { selectors, property },
  );
}
