// The status line under the still (ui/assets/status.js) in Chromium at phone and desktop sizes: a real
// synthetic camera and a real failing one say so plainly with the reason and what to do; every state
// of `status` (injected into /api/state) reads as it should.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { CameraError, type Camera } from '../../src/camera/types.ts';
import { farSchedule, makeJpeg } from '../helpers/setup.ts';
import { SIZES, injectStatus, launch, openPage, pageDaemon, statusOf } from '../helpers/page.ts';

const line = (page: Page) => page.textContent('#status-line');
const advice = (page: Page) => page.textContent('#status-advice');
const kind = async (page: Page) => (await page.getAttribute('#camera-status', 'class'))!.replace('camera-status', '').trim();

describe('the status line', () => {
  let browser: Browser;
  before(async () => {
    browser = await launch();
  });
  after(() => browser?.close());

  for (const [name, size] of Object.entries(SIZES)) {
    test(`${name}: a synthetic camera is stated plainly, with what to do; then the latest's age, next still, free space`, async () => {
      const pd = await pageDaemon({ MONCAM_CAMERA_BACKEND: 'synthetic', MONCAM_SCHEDULE_ENABLED: 'true', ...farSchedule() });
      try {
        await pd.daemon.app.captures.capture('schedule');
        const { context, page } = await openPage(browser, pd.daemon.web, { size });
        assert.equal(await page.isVisible('#camera-status'), true);
        assert.match(
          (await line(page))!,
          /^Synthetic camera \(test pictures, no real camera\) · synthetic · latest just now · next in (29|30) min · [\d.]+ (GB|MB|kB) free$/,
        );
        assert.match((await advice(page))!, /set camera\.backend/);
        assert.equal(await kind(page), 'warn');
        const box = (await page.locator('#camera-status').boundingBox())!;
        const img = (await page.locator('#latest-img').boundingBox())!;
        assert.ok(box.y >= img.y + img.height, 'under the still');
        assert.ok(box.x + box.width <= size.width, 'within the screen');
        await context.close();
      } finally {
        await pd.stop();
      }
    });
  }

  test('a failing camera: the reason and the advice from the health check, in the error colours; a good still clears it', async () => {
    let broken = true;
    const good = await makeJpeg(640, 480);
    const camera: Camera = {
      backend: 'rpicam',
      description: 'a camera with a loose ribbon',
      async capture() {
        if (broken) throw new CameraError('no_camera', 'no camera found');
        return { jpeg: good };
      },
    };
    const pd = await pageDaemon({}, { camera });
    try {
      await pd.daemon.app.captures.capture('schedule').catch(() => undefined);
      const { context, page } = await openPage(browser, pd.daemon.web, { size: SIZES.phone });
      assert.match((await line(page))!, /^Camera failing · rpicam/);
      assert.match((await advice(page))!, /The last capture failed \(no_camera: no camera found\)\. Check the camera's ribbon cable/);
      assert.equal(await kind(page), 'error');
      broken = false;
      await pd.daemon.app.captures.capture('web');
      await page.waitForFunction(() => document.getElementById('status-line')!.textContent!.startsWith('Camera OK'));
      assert.equal(await kind(page), 'ok');
      assert.equal(await page.isVisible('#status-advice'), false);
      await context.close();
    } finally {
      await pd.stop();
    }
  });

  test('every state of `status` reads as it should', async () => {
    const pd = await pageDaemon();
    try {
      await pd.daemon.app.captures.capture('schedule');
      const cases: Array<[Record<string, unknown>, RegExp, RegExp | null, string]> = [
        [{}, /^Camera OK · rpicam · latest 3 min ago · next in 17 min · 12\.4 GB free$/, null, 'ok'],
        [
          {
            state: 'stale',
            stale: true,
            latest_at: new Date(Date.now() - 5 * 3600_000).toISOString(),
            reason: 'The newest still is 5 h old: the schedule has missed at least two stills.',
            advice: 'Check that the schedule is on.',
          },
          /^Camera late · rpicam · latest 5 h ago/,
          /^The newest still is 5 h old.+ Check that the schedule is on\.$/,
          'warn',
        ],
        [
          {
            state: 'paused',
            stale: true,
            reason: 'Captures are paused until 14:05 after 3 failures in a row (timeout: no answer).',
            advice: 'Check the cable.',
          },
          /^Captures paused · rpicam/,
          /paused until 14:05.+Check the cable\.$/,
          'error',
        ],
        [
          { state: 'no_stills', latest_at: null, reason: 'No still has been taken yet.', next_at: null, free_bytes: 512e6 },
          /^No stills yet · rpicam · 512 MB free$/,
          /^No still has been taken yet\.$/,
          'warn',
        ],
        [
          { state: 'failing', reason: null, last_error: { code: 'io', message: 'EIO', at: new Date().toISOString() } },
          /^Camera failing/,
          /^Last error \(io\): EIO$/,
          'error',
        ],
      ];
      const { context, page } = await openPage(browser, pd.daemon.web, { size: SIZES.desktop });
      for (const [over, wantLine, wantAdvice, wantKind] of cases) {
        await page.unrouteAll();
        await injectStatus(page, statusOf(over));
        await page.reload();
        await page.waitForSelector('html[data-ready]');
        assert.match((await line(page))!, wantLine, JSON.stringify(over));
        if (wantAdvice) assert.match((await advice(page))!, wantAdvice);
        else assert.equal(await page.isVisible('#status-advice'), false);
        assert.equal(await kind(page), wantKind, JSON.stringify(over));
      }
      await context.close();
    } finally {
      await pd.stop();
    }
  });
});
