// The page in real headless Chromium (Debian's), driven by playwright-core.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { launch } from '../helpers/chromium.ts';
import { setPassword } from '../../src/auth/password.ts';
import { CameraError, type Camera } from '../../src/camera/types.ts';
import { instantCamera, startDaemon, type Daemon } from '../helpers/mqtt.ts';
import { makeJpeg, notNearMidnight, tempDir, until } from '../helpers/setup.ts';
import { recorded } from '../storage/helpers.ts';

const PASSWORD = 'browser-secret-1';
const SHOTS = path.join(import.meta.dirname, '..', '..', 'test-results', 'screenshots');
const TIME_TAG = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/;

async function login(page: Page, base: string): Promise<void> {
  await page.goto(`${base}/`);
  assert.match(page.url(), /\/login$/, 'an anonymous visit lands on the login page');
  await page.fill('#password', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}/`);
  await page.waitForSelector('#latest-time:not(:empty)');
}

describe('the page in Chromium', () => {
  let daemon: Daemon;
  let browser: Browser;
  before(async () => {
    await notNearMidnight(60_000); // stills of today and of earlier days, by the wall clock
    fs.mkdirSync(SHOTS, { recursive: true });
    const dataDir = tempDir();
    await setPassword(path.join(dataDir, 'private', 'pass_user'), PASSWORD);
    daemon = await startDaemon(instantCamera(await makeJpeg(1600, 1200, '#4a7f3a')), { MONCAM_DATA_DIR: dataDir, MONCAM_WEB_FRESH_ON_VISIT: 'false' });
    // A still yesterday (filed in yesterday's folder) and two today.
    const yesterday = new Date(Date.now() - 86_400_000);
    const jpeg = await makeJpeg(1600, 1200, '#7f4a3a');
    await daemon.app.store.save({
      capturedAt: yesterday,
      original: jpeg,
      thumb: await makeJpeg(480, 360, '#7f4a3a'),
      preview: await makeJpeg(1280, 960, '#7f4a3a'),
      meta: recorded({ trigger: 'schedule' }),
    });
    await daemon.app.captures.capture('schedule');
    await daemon.app.captures.capture('web');
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await daemon?.stop();
  });

  test('wrong password: stays on login with an error; right password: the latest still with its time tag', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await page.goto(`${daemon.web}/login`);
    await page.fill('#password', 'not-the-password');
    await page.click('button[type=submit]');
    await page.waitForURL(/\/login\?error=1$/);
    assert.equal(await page.isVisible('#error'), true);
    await login(page, daemon.web);
    const latest = daemon.app.store.latest()!;
    assert.match((await page.textContent('#latest-time'))!, TIME_TAG);
    assert.equal(await page.textContent('#latest-time'), latest.capturedAtIso.slice(0, 19).replace('T', ' '));
    const shown = await page.$eval('#latest-img', (img) => (img as HTMLImageElement).currentSrc);
    assert.match(shown, new RegExp(`/images/${latest.id.replace('.', '\\.')}/(thumb|preview)\\.jpg$`), 'the latest thumbnail (or preview on a wide screen)');
    await page.screenshot({ path: path.join(SHOTS, 'desktop.png') });
    await page.close();
  });

  test('clicking the image, or the time tag, opens the still in the viewer with its original (natural size = camera size)', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await login(page, daemon.web);
    const latest = daemon.app.store.latest()!;
    for (const selector of ['#latest-img', '#latest-time']) {
      await page.click(selector);
      await page.waitForSelector('dialog.mcv[open]');
      assert.equal(await page.getAttribute('dialog.mcv', 'data-id'), latest.id, selector);
      assert.match((await page.getAttribute('.mcv-download', 'href'))!, new RegExp(`/images/${latest.id.replace('.', '\\.')}/full\\.jpg$`));
      await page.waitForSelector('dialog.mcv[data-loaded="full"]');
      const size = await page.$eval('.mcv-img', (img) => [(img as HTMLImageElement).naturalWidth, (img as HTMLImageElement).naturalHeight]);
      assert.deepEqual(size, [1600, 1200], selector);
      await page.keyboard.press('Escape');
      await page.waitForSelector('dialog.mcv', { state: 'detached' });
    }
    await page.close();
  });

  test("the full-resolution still opens in Chromium's own image viewer, styled (no CSP violation): centred, shrunk to fit", async () => {
    // Wider than the still's 4:3, so the fitted still (900 px high) leaves room either side.
    const page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
    await login(page, daemon.web);
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
    });
    const latest = daemon.app.store.latest()!;
    await page.goto(`${daemon.web}/images/${latest.id}/full.jpg`);
    const view = await page.$eval('img', (img) => {
      const r = img.getBoundingClientRect();
      return { left: r.left, width: r.width, bodyBg: getComputedStyle(document.body).backgroundColor, cursor: getComputedStyle(img).cursor };
    });
    assert.deepEqual(violations, []);
    assert.ok(view.width <= 1200, `shrunk to the window height: ${JSON.stringify(view)}`);
    assert.ok(view.left > 0, `centred: ${JSON.stringify(view)}`);
    assert.notEqual(view.bodyBg, 'rgba(0, 0, 0, 0)', "the viewer's own background");
    assert.equal(view.cursor, 'zoom-in', 'click to zoom');
    await page.screenshot({ path: path.join(SHOTS, 'full-image.png') });
    await page.close();
  });

  test("the day: today's stills in the strip; previous day shows yesterday's still; the date picker works", async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await login(page, daemon.web);
    await page.waitForSelector('#strip .thumb');
    assert.ok((await page.locator('#strip .thumb').count()) >= 2, "today's stills are linked");
    const today = await page.inputValue('#day');
    await page.click('#prev-day');
    await page.waitForFunction((t) => (document.getElementById('day') as HTMLInputElement).value !== t, today);
    await page.waitForFunction(() => document.querySelectorAll('#strip .thumb').length === 1);
    const href = await page.getAttribute('#strip .thumb', 'href');
    assert.match(href!, /\/images\/.+\/full\.jpg$/);
    await page.fill('#day', today);
    await page.dispatchEvent('#day', 'change');
    await page.waitForFunction(() => document.querySelectorAll('#strip .thumb').length >= 2);
    await page.close();
  });

  test('live update: a still taken over MQTT appears without a reload', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await login(page, daemon.web);
    const before = await page.textContent('#latest-time');
    const beforeId = daemon.app.store.latest()!.id;
    await new Promise((r) => setTimeout(r, 1100)); // a new second, so the time tag visibly changes
    const client = await mqtt.connectAsync(daemon.url);
    await client.publishAsync('moncam/capture/set', '', { qos: 1 });
    await client.endAsync();
    await until(() => daemon.app.store.latest()!.id !== beforeId, 5000, 'the MQTT still');
    await page.waitForFunction((b) => document.getElementById('latest-time')!.textContent !== b, before, { timeout: 5000 });
    const id = daemon.app.store.latest()!.id;
    assert.ok((await page.getAttribute('#latest-img', 'src'))!.includes(id));
    await page.close();
  });

  test('keyboard: Tab to "Take still", Enter takes one; the page shows it', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await login(page, daemon.web);
    const beforeId = daemon.app.store.latest()!.id;
    await page.focus('#take');
    await page.keyboard.press('Enter');
    await until(() => daemon.app.store.latest()!.id !== beforeId, 5000, 'the new still');
    await page.waitForFunction((id) => !document.getElementById('latest-img')!.getAttribute('src')!.includes(id), beforeId);
    await page.close();
  });

  test('a 360 px phone: no horizontal scrolling, tap targets at least 44 px', async () => {
    const context = await browser.newContext({ viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    const page = await context.newPage();
    await login(page, daemon.web);
    await page.waitForSelector('#strip li');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `horizontal overflow ${overflow}px`);
    for (const sel of ['#take', '#prev-day', '#next-day']) {
      const box = (await page.locator(sel).boundingBox())!;
      assert.ok(box.height >= 44, `${sel} is ${box.height}px tall`);
    }
    await page.screenshot({ path: path.join(SHOTS, 'phone.png') });
    await context.close();
  });

  test('dark mode follows the system setting', async () => {
    const context = await browser.newContext({ viewport: { width: 800, height: 600 }, colorScheme: 'dark' });
    const page = await context.newPage();
    await login(page, daemon.web);
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(bg, 'rgb(15, 17, 21)');
    await context.close();
  });

  test('buttons meet WCAG AA contrast (4.5:1) in light and dark mode, computed from the CSS', async () => {
    for (const colorScheme of ['light', 'dark'] as const) {
      const context = await browser.newContext({ viewport: { width: 800, height: 600 }, colorScheme });
      const page = await context.newPage();
      await login(page, daemon.web);
      // A string, not a function: tsx would wrap the named helpers in __name(), unknown in the page.
      const ratios = (await page.evaluate(`(() => {
        const rgb = (css) => (css.match(/[\\d.]+/g) || []).map(Number);
        const lin = (c) => ((c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
        const lum = ([r, g, b]) => 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
        // A transparent button shows what is behind it: walk up to the first opaque background.
        const background = (el) => {
          for (; el; el = el.parentElement) {
            const c = rgb(getComputedStyle(el).backgroundColor);
            if (c.length === 3 || c[3] !== 0) return c;
          }
          return [255, 255, 255];
        };
        return [...document.querySelectorAll('button:not(:disabled)')].map((b) => {
          const fg = lum(rgb(getComputedStyle(b).color));
          const bg = lum(background(b));
          return { label: b.textContent.trim() || b.getAttribute('aria-label'), ratio: (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05) };
        });
      })()`)) as Array<{ label: string; ratio: number }>;
      assert.ok(
        ratios.some((r) => r.label === 'Take still'),
        JSON.stringify(ratios),
      );
      for (const { label, ratio } of ratios) assert.ok(ratio >= 4.5, `${colorScheme}: "${label}" contrast ${ratio.toFixed(2)}:1`);
      await context.close();
    }
  });
});

describe('the page when the camera fails', () => {
  test('the error shows on load and live, with the pause; a good still clears it', async () => {
    const dataDir = tempDir();
    await setPassword(path.join(dataDir, 'private', 'pass_user'), PASSWORD);
    let broken = true;
    const good = await makeJpeg(640, 480, '#4a7f3a');
    const camera: Camera = {
      backend: 'flaky',
      description: 'test camera with a loose ribbon',
      async capture() {
        if (broken) throw new CameraError('no_camera', 'no camera found: is the ribbon cable seated?');
        return { jpeg: good };
      },
    };
    const daemon = await startDaemon(camera, {
      MONCAM_DATA_DIR: dataDir,
      MONCAM_WEB_FRESH_ON_VISIT: 'false',
      MONCAM_CAMERA_BACKOFF_AFTER: '2',
      MONCAM_CAMERA_BACKOFF_S: '1',
    });
    const browser = await launch();
    try {
      await daemon.app.captures.capture('schedule').catch(() => undefined);
      const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
      await page.goto(`${daemon.web}/`);
      await page.fill('#password', PASSWORD);
      // The live stream's headers come once the server has registered it: the events below reach the page.
      const live = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/events');
      await page.click('button[type=submit]');
      await page.waitForURL(`${daemon.web}/`);
      await page.waitForFunction(() => document.getElementById('camera-status')!.textContent!.includes('no_camera'));
      assert.match((await page.locator('#camera-status').textContent()) ?? '', /no_camera\)?: no camera found: is the ribbon cable seated\?/);
      assert.match((await page.locator('#camera-status').getAttribute('class'))!, /\berror\b/);

      // Live: the second failure starts a pause, and a request during it is refused with `backoff`.
      await live;
      await daemon.app.captures.capture('schedule').catch(() => undefined);
      await daemon.app.captures.capture('schedule').catch(() => undefined);
      await page.waitForFunction(() => document.getElementById('notice')!.textContent!.includes('backoff'));
      assert.match((await page.locator('#notice').textContent()) ?? '', /captures are paused after 2 failures in a row/);
      await page.screenshot({ path: path.join(SHOTS, 'camera-error.png') });

      broken = false;
      await until(() => !daemon.app.captures.healthSnapshot().paused_until, 3000, 'the pause to end');
      await daemon.app.captures.capture('web');
      await page.waitForFunction(
        () => !/failed|failing/i.test(document.getElementById('camera-status')!.textContent!) && document.getElementById('notice')!.hidden,
      );
      await page.reload();
      await page.waitForSelector('#latest-time:not(:empty)');
      assert.doesNotMatch((await page.locator('#camera-status').textContent()) ?? '', /no_camera/, 'no error after a good still');
    } finally {
      await browser.close();
      await daemon.stop();
    }
  });
});
