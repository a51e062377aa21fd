// The page through axe-core (the WCAG rules as the browser computes them) in light and dark, on a phone
// and a desktop: no serious or critical violation. The status line is shown in its warning (synthetic
// camera) and error (failing camera) colours, injected into /api/state.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startOfToday } from '../helpers/browser.ts';
import { notNearMidnight } from '../helpers/setup.ts';
import { DESKTOP, PHONE, every, injectStatus, launch, openPage, pageDaemon, seedStills, statusOf, type PageDaemon } from '../helpers/page.ts';

const AXE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const SYNTHETIC_STATUS = statusOf({
  backend: 'synthetic',
  synthetic: true,
  reason: 'No camera was found, so moncam takes stills of its synthetic test scene (rpicam-still: no cameras available).',
  advice: "Check the camera's ribbon cable (power off first). Then restart moncam, or set camera.backend.",
});
const FAILING_STATUS = statusOf({
  state: 'failing',
  stale: true,
  reason: 'The last 3 captures failed (no_camera: no camera found).',
  advice: "Check the camera's ribbon cable (power off first) and that `rpicam-still --list-cameras` lists the camera.",
  last_error: { code: 'no_camera', message: 'no camera found', at: new Date().toISOString() },
});

const HAS_VIEWER = fs.existsSync(path.join(import.meta.dirname, '..', '..', 'ui', 'assets', 'viewer.js'));

/** axe's serious and critical violations on the page as it is now, one line each. */
async function serious(page: Page): Promise<string[]> {
  const result = (await page.evaluate(`axe.run(document, { resultTypes: ['violations'] })`)) as { violations: Violation[] };
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary}`).join(' | ')}`);
}

type Violation = { id: string; impact: string; help: string; nodes: Array<{ target: string[]; failureSummary: string }> };

describe('accessibility (axe-core)', () => {
  let pd: PageDaemon;
  let browser: Browser;
  before(async () => {
    await notNearMidnight(120_000); // today's stills stay today's through the four axe passes
    pd = await pageDaemon();
    const store = pd.daemon.app.store;
    // Within today (in the first hours after midnight the 5 hours before would be yesterday's strip).
    const now = Date.now();
    const from = Math.max(now - 5 * 3600_000, startOfToday(pd.daemon, now) + 1000);
    await seedStills(store, every(new Date(from), Math.min(15, (now - from) / 60_000 / 13), 12));
    await pd.daemon.app.captures.capture('visit');
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await pd?.stop();
  });

  const cases = [
    ['phone', PHONE, 'light', SYNTHETIC_STATUS],
    ['phone', PHONE, 'dark', FAILING_STATUS],
    ['desktop', DESKTOP, 'light', FAILING_STATUS],
    ['desktop', DESKTOP, 'dark', SYNTHETIC_STATUS],
  ] as const;
  for (const [name, size, colorScheme, status] of cases) {
    test(`${name} ${colorScheme} (status ${status.state}${status.synthetic ? ', synthetic' : ''}): no serious or critical violation`, async () => {
      const { context, page } = await openPage(browser, pd.daemon.web, { size, colorScheme });
      try {
        await injectStatus(page, status);
        await page.reload();
        await page.waitForSelector('html[data-ready]');
        await page.waitForSelector('#camera-status:not([hidden])');
        await page.locator('#strip .thumb').first().focus(); // a focused thumbnail is checked too
        await page.evaluate(AXE); // evaluate, not a script tag: the page's CSP allows only its own scripts
        assert.deepEqual(await serious(page), []);
        assert.ok(await page.locator('#strip .thumb').count(), 'the strip was there to check');
        if (HAS_VIEWER) {
          await page.keyboard.press('Enter'); // the focused thumbnail opens in the viewer
          await page.waitForSelector('dialog[open]');
          assert.deepEqual(await serious(page), [], 'with the viewer open');
        }
      } finally {
        await context.close();
      }
    });
  }
});
