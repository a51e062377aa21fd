// The page through axe-core (the WCAG rules as the browser computes them) in light and dark, on a phone
// and a desktop: no serious or critical violation. The status line is shown in its warning (synthetic
// camera) and error (failing camera) colours, injected into /api/state.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { DESKTOP, PHONE, every, launch, openPage, pageDaemon, seedStills, type PageDaemon } from '../helpers/page.ts';

const AXE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export const SYNTHETIC_STATUS = {
  backend: 'synthetic',
  synthetic: true,
  state: 'ok',
  stale: false,
  reason: 'No camera was found, so moncam draws a test picture.',
  advice: 'Connect the camera and restart moncam (camera.backend: auto), or name the backend in the config.',
  latest_at: new Date().toISOString(),
  next_at: new Date(Date.now() + 20 * 60_000).toISOString(),
  free_bytes: 12.4e9,
  stills_kept: 40,
  last_error: null,
};
export const FAILING_STATUS = {
  ...SYNTHETIC_STATUS,
  backend: 'rpicam',
  synthetic: false,
  state: 'failing',
  reason: 'The last 3 stills failed.',
  advice: 'Check the ribbon cable, then run: moncam capture',
  last_error: { code: 'no_camera', message: 'no camera found', at: new Date().toISOString() },
};

/** /api/state answered with `status` set, as the daemon's health reports it. */
export async function injectStatus(page: Page, status: object): Promise<void> {
  await page.route('**/api/state', async (route) => {
    const res = await route.fetch();
    await route.fulfill({ response: res, json: { ...((await res.json()) as object), status } });
  });
}

type Violation = { id: string; impact: string; help: string; nodes: Array<{ target: string[]; failureSummary: string }> };

describe('accessibility (axe-core)', () => {
  let pd: PageDaemon;
  let browser: Browser;
  before(async () => {
    pd = await pageDaemon();
    const store = pd.daemon.app.store;
    await seedStills(store, every(new Date(Date.now() - 5 * 3600_000), 15, 12));
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
        const result = (await page.evaluate(`axe.run(document, { resultTypes: ['violations'] })`)) as { violations: Violation[]; passes: unknown[] };
        const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
        assert.deepEqual(
          bad.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary}`).join(' | ')}`),
          [],
        );
        assert.ok(await page.locator('#strip .thumb').count(), 'the strip was there to check');
      } finally {
        await context.close();
      }
    });
  }
});
