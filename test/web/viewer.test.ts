// The still viewer (ui/assets/viewer.js) in real headless Chromium at phone and desktop sizes, loaded from
// the app's /assets under its CSP: prev/next by button, key and swipe, zoom, download, Escape, the back
// button and a shared #still= URL.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { contrasts, importModules, launch, loggedIn, seededDaemon, SIZES } from '../helpers/browser.ts';
import type { Daemon } from '../helpers/mqtt.ts';

const COLOURS = ['#aa2222', '#22aa22', '#2222aa', '#aaaa22', '#22aaaa'];

interface Still {
  id: string;
  captured_at: string;
  urls: { full: string; thumb: string; preview: string };
}

const stills = (page: Page) => page.evaluate(() => (window as any).stills as Still[]);
const shownId = (page: Page) => page.getAttribute('dialog.mcv', 'data-id');
const scale = async (page: Page) => Number(await page.getAttribute('dialog.mcv', 'data-scale'));

/** Adds an opener button to the page and clicks it: the viewer opens on still `index`. */
async function openAt(page: Page, index: number): Promise<void> {
  await page.evaluate((i) => {
    document.getElementById('opener')?.remove();
    const b = Object.assign(document.createElement('button'), { id: 'opener', textContent: 'open' });
    b.addEventListener('click', () =>
      (window as any).viewer.openViewer((window as any).stills, i, { onClose: () => ((window as any).viewerClosed = ((window as any).viewerClosed || 0) + 1) }),
    );
    document.body.prepend(b);
  }, index);
  await page.click('#opener');
  await page.waitForSelector('dialog.mcv[open]', { timeout: 2000 }).catch(async (err) => {
    throw new Error(`${err.message}; page problems: ${JSON.stringify((page as any).problems)}`);
  });
}

/** The zoomed still's translation in px, from its transform. */
async function offset(page: Page): Promise<[number, number]> {
  const t = await page.$eval('.mcv-img', (i) => (i as HTMLElement).style.transform);
  const m = /translate\((-?[\d.e-]+)px, (-?[\d.e-]+)px\)/.exec(t);
  assert.ok(m, t);
  return [Number(m[1]), Number(m[2])];
}

const sessions = new WeakMap<Page, CDPSession>();

/** A touch event through Chromium's input pipeline (as a finger on the screen: touch and pointer events). */
async function touch(page: Page, type: 'touchStart' | 'touchMove' | 'touchEnd', points: Array<[number, number]>): Promise<void> {
  let cdp = sessions.get(page);
  if (!cdp) sessions.set(page, (cdp = await page.context().newCDPSession(page)));
  await cdp.send('Input.dispatchTouchEvent', { type, touchPoints: points.map(([x, y], id) => ({ x, y, id })) });
}

async function swipe(page: Page, from: [number, number], to: [number, number], touchInput: boolean): Promise<void> {
  if (touchInput) {
    await touch(page, 'touchStart', [from]);
    for (let k = 1; k <= 5; k++) await touch(page, 'touchMove', [[from[0] + ((to[0] - from[0]) * k) / 5, from[1] + ((to[1] - from[1]) * k) / 5]]);
    await touch(page, 'touchEnd', []);
  } else {
    await page.mouse.move(...from);
    await page.mouse.down();
    await page.mouse.move(...to, { steps: 5 });
    await page.mouse.up();
  }
}

test('viewer.js, player.js and viewer.css together are at most 12 KB gzipped', () => {
  const assets = path.join(import.meta.dirname, '..', '..', 'ui', 'assets');
  const sizes = ['viewer.js', 'player.js', 'viewer.css'].map((f) => zlib.gzipSync(fs.readFileSync(path.join(assets, f)), { level: 9 }).length);
  const total = sizes.reduce((a, b) => a + b, 0);
  assert.ok(total <= 12 * 1024, `${sizes.join(' + ')} = ${total} bytes`);
});

describe('the still viewer in Chromium', () => {
  let daemon: Daemon;
  let browser: Browser;
  before(async () => {
    daemon = await seededDaemon(COLOURS);
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await daemon?.stop();
  });

  for (const size of SIZES) {
    describe(`${size.name} ${size.viewport.width}x${size.viewport.height}`, () => {
      let context: BrowserContext;
      let page: Page;
      let csp: string[];
      let list: Still[];
      before(async () => {
        const { name: _name, ...options } = size;
        context = await browser.newContext(options);
        ({ page, problems: csp } = await loggedIn(context, daemon.web));
        await importModules(page);
        list = await stills(page);
        assert.equal(list.length, COLOURS.length);
      });
      after(() => context?.close());

      test('opens on a still: its time, full resolution swapped in, the download link to the original; fills the screen; no CSP violation', async () => {
        await openAt(page, 1);
        assert.equal(await shownId(page), list[1]!.id);
        assert.equal(await page.textContent('.mcv-time'), list[1]!.captured_at.slice(0, 19).replace('T', ' '));
        assert.match((await page.textContent('.mcv-count')) ?? '', /2 of 5/);
        assert.equal(await page.evaluate(() => location.hash), `#still=${encodeURIComponent(list[1]!.id)}`);
        await page.waitForSelector('dialog.mcv[data-loaded=full]');
        const img = await page.$eval('.mcv-img', (i) => ({ src: (i as HTMLImageElement).currentSrc, w: (i as HTMLImageElement).naturalWidth }));
        assert.ok(img.src.endsWith(list[1]!.urls.full), img.src);
        assert.equal(img.w, 1600, 'the full-resolution still');

        const href = await page.getAttribute('.mcv-download', 'href');
        assert.equal(href, list[1]!.urls.full);
        assert.notEqual(await page.getAttribute('.mcv-download', 'download'), null, 'a download link');
        const bytes = await page.evaluate(async (u) => [...new Uint8Array(await (await fetch(u)).arrayBuffer())], href!);
        const original = fs.readFileSync((await daemon.app.store.get(list[1]!.id))!.files.original);
        assert.deepEqual(Buffer.from(bytes), original, 'the original, byte for byte');

        const box = (await page.locator('dialog.mcv').boundingBox())!;
        assert.deepEqual([box.x, box.y, box.width, box.height], [0, 0, size.viewport.width, size.viewport.height]);
        assert.equal(await page.$eval('dialog.mcv', (d) => getComputedStyle(d).backgroundColor), 'rgb(0, 0, 0)', 'viewer.css applied');
        for (const sel of ['.mcv-prev', '.mcv-next', '.mcv-close', '.mcv-download', '.mcv-zoom-in']) {
          const b = (await page.locator(sel).boundingBox())!;
          assert.ok(b.width >= 44 && b.height >= 44, `${sel} is a 44 px target: ${JSON.stringify(b)}`);
          assert.ok(b.x >= 0 && b.x + b.width <= size.viewport.width && b.y + b.height <= size.viewport.height, `${sel} on screen`);
        }
        assert.equal(await page.evaluate(() => document.activeElement?.className), 'mcv-close', 'focus moves into the viewer');
        const fetched = await page.evaluate(() => performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname));
        for (const n of [0, 2]) assert.ok(fetched.includes(list[n]!.urls.preview), `the neighbour's preview is preloaded: ${list[n]!.urls.preview}`);
        assert.ok(!fetched.includes(list[3]!.urls.preview), 'not the whole day');
        assert.deepEqual(csp, []);
      });

      test('WCAG AA contrast in light and dark: text 4.5:1, focus ring 3:1', async () => {
        for (const colorScheme of ['light', 'dark'] as const) {
          await page.emulateMedia({ colorScheme });
          const text = await contrasts(page, ['.mcv-time', '.mcv-count', '.mcv-close', '.mcv-next', '.mcv-download']);
          for (const [sel, ratio] of Object.entries(text)) assert.ok(ratio >= 4.5, `${colorScheme} ${sel}: ${ratio}`);
          await page.focus('.mcv-next');
          await page.keyboard.press('Shift+Tab');
          await page.keyboard.press('Tab'); // keyboard focus: :focus-visible
          const ring = await contrasts(page, ['.mcv-next'], 'outlineColor');
          assert.ok(ring['.mcv-next']! >= 3, `${colorScheme} focus ring: ${ring['.mcv-next']}`);
          assert.notEqual(await page.$eval('.mcv-next', (b) => getComputedStyle(b).outlineStyle), 'none', 'visible focus');
        }
        await page.emulateMedia({ colorScheme: null });
      });

      test('next and previous by button and by ArrowRight/ArrowLeft; the ends disable their button', async () => {
        await page.click('.mcv-next');
        assert.equal(await shownId(page), list[2]!.id);
        await page.click('.mcv-prev');
        await page.click('.mcv-prev');
        assert.equal(await shownId(page), list[0]!.id);
        assert.equal(await page.isDisabled('.mcv-prev'), true, 'nothing before the first');
        await page.keyboard.press('ArrowRight');
        await page.keyboard.press('ArrowRight');
        assert.equal(await shownId(page), list[2]!.id);
        assert.equal(await page.textContent('.mcv-time'), list[2]!.captured_at.slice(0, 19).replace('T', ' '));
        await page.keyboard.press('ArrowLeft');
        assert.equal(await shownId(page), list[1]!.id);
        for (let i = 0; i < 6; i++) await page.keyboard.press('ArrowRight');
        assert.equal(await shownId(page), list[4]!.id, 'stops at the last');
        assert.equal(await page.isDisabled('.mcv-next'), true);
        assert.equal(await page.evaluate(() => location.hash), `#still=${encodeURIComponent(list[4]!.id)}`, 'the URL follows the still shown');
      });

      test(`swipe left and right (${size.hasTouch ? 'touch' : 'mouse drag'}) goes to the next and previous still`, async () => {
        await page.keyboard.press('ArrowLeft'); // on list[3]
        const s = (await page.locator('.mcv-stage').boundingBox())!;
        const y = s.y + s.height / 2;
        await swipe(page, [s.x + s.width * 0.8, y], [s.x + s.width * 0.2, y], size.hasTouch);
        assert.equal(await shownId(page), list[4]!.id, 'swipe left: next');
        await swipe(page, [s.x + s.width * 0.2, y], [s.x + s.width * 0.8, y], size.hasTouch);
        await swipe(page, [s.x + s.width * 0.2, y], [s.x + s.width * 0.8, y], size.hasTouch);
        assert.equal(await shownId(page), list[2]!.id, 'swipe right twice: two back');
        await swipe(page, [s.x + s.width * 0.5, y], [s.x + s.width * 0.5 + 20, y + 5], size.hasTouch);
        assert.equal(await shownId(page), list[2]!.id, 'a short drag is no swipe');
      });

      test('zoom: double-tap/double-click, wheel, pinch and the + key change the scale; panning moves a zoomed still; next resets it', async () => {
        const s = (await page.locator('.mcv-stage').boundingBox())!;
        const cx = s.x + s.width / 2;
        const cy = s.y + s.height / 2;
        assert.equal(await scale(page), 1);
        if (size.hasTouch) {
          for (let k = 0; k < 2; k++) {
            await touch(page, 'touchStart', [[cx, cy]]);
            await touch(page, 'touchEnd', []);
          }
        } else await page.mouse.dblclick(cx, cy);
        assert.equal(await scale(page), 2.5, 'double-tap / double-click zooms in');
        const before = await page.$eval('.mcv-img', (i) => (i as HTMLElement).style.transform);
        await swipe(page, [cx, cy], [cx - 100, cy - 60], size.hasTouch);
        const panned = await page.$eval('.mcv-img', (i) => (i as HTMLElement).style.transform);
        assert.notEqual(panned, before, 'dragging pans');
        assert.equal(await shownId(page), list[2]!.id, 'a drag on a zoomed still pans, it does not change the still');
        await page.keyboard.press('0');
        assert.equal(await scale(page), 1);

        if (size.hasTouch) {
          await touch(page, 'touchStart', [
            [cx - 40, cy],
            [cx + 40, cy],
          ]);
          for (let k = 1; k <= 5; k++)
            await touch(page, 'touchMove', [
              [cx - 40 - k * 20, cy],
              [cx + 40 + k * 20, cy],
            ]);
          await touch(page, 'touchEnd', []);
          const pinched = await scale(page);
          assert.ok(Math.abs(pinched - 3.5) < 0.05, `fingers from 80 to 280 px apart zoom 3.5x: got ${pinched}`);
          assert.equal(await shownId(page), list[2]!.id, 'a pinch is no swipe');
        } else {
          await page.mouse.move(cx, cy);
          await page.mouse.wheel(0, -300);
          await page.waitForFunction(() => Number(document.querySelector('dialog.mcv')!.getAttribute('data-scale')) > 1);
          assert.ok((await scale(page)) > 2.5, 'wheel up zooms in');
        }
        await page.keyboard.press('0');
        await page.keyboard.press('+');
        assert.equal(await scale(page), 1.5, '+ zooms in');
        await page.click('.mcv-zoom-out');
        assert.equal(await scale(page), 1, 'the zoom-out button');
        // The keyboard moves a zoomed still: Shift+arrows and the up and down arrows, within its edges.
        await page.keyboard.press('0');
        const shownBefore = await shownId(page);
        await page.keyboard.press('Shift+ArrowRight');
        assert.deepEqual(await offset(page), [0, 0], 'an unzoomed still does not move');
        await page.keyboard.press('+');
        await page.keyboard.press('+');
        await page.keyboard.press('Shift+ArrowRight');
        await page.keyboard.press('ArrowDown');
        const [x1, y1] = await offset(page);
        assert.ok(x1 < 0 && y1 < 0, `moved towards the right and bottom of the still: ${x1}, ${y1}`);
        for (let i = 0; i < 20; i++) await page.keyboard.press('Shift+ArrowRight');
        const [x2] = await offset(page);
        const stage = (await page.locator('.mcv-stage').boundingBox())!;
        assert.ok(Math.abs(x2 + ((2.25 - 1) * stage.width) / 2) < 1, `stops at the edge: ${x2}`);
        await page.keyboard.press('Shift+ArrowLeft');
        await page.keyboard.press('ArrowUp');
        const [x3, y3] = await offset(page);
        assert.ok(x3 > x2 && y3 > y1, 'and back');
        assert.equal(await shownId(page), shownBefore, 'moving is not changing the still');
        await page.keyboard.press('0');
        await page.click('.mcv-zoom-in');
        await page.keyboard.press('ArrowRight');
        assert.equal(await shownId(page), list[3]!.id);
        assert.equal(await scale(page), 1, 'another still starts unzoomed');
      });

      test('Tab stays inside the viewer; Escape closes it, pops its history entry, returns focus and calls onClose', async () => {
        for (let i = 0; i < 8; i++) {
          await page.keyboard.press('Tab');
          assert.equal(await page.evaluate(() => Boolean(document.activeElement?.closest('dialog.mcv'))), true, `tab ${i}`);
        }
        await page.keyboard.press('Shift+Tab');
        assert.equal(await page.evaluate(() => Boolean(document.activeElement?.closest('dialog.mcv'))), true);
        const closedBefore = await page.evaluate(() => (window as any).viewerClosed || 0);
        await page.keyboard.press('Escape');
        await page.waitForSelector('dialog.mcv', { state: 'detached' });
        await page.waitForFunction(() => location.hash === '');
        assert.equal(await page.evaluate(() => document.activeElement?.id), 'opener', 'focus back on what opened it');
        assert.equal(await page.evaluate(() => (window as any).viewerClosed), closedBefore + 1);
        assert.equal(page.url(), `${daemon.web}/`);
      });

      test('the back button closes the viewer and stays on the page; forward reopens it; the close button pops the entry', async () => {
        await openAt(page, 0);
        await page.keyboard.press('ArrowRight'); // replaces the entry: back still closes in one step
        await page.goBack();
        await page.waitForSelector('dialog.mcv', { state: 'detached' });
        assert.equal(page.url(), `${daemon.web}/`, 'still on the page');
        assert.equal(await page.evaluate(() => typeof (window as any).viewer), 'object', 'no reload: the same document');

        await page.goForward();
        await page.waitForSelector('dialog.mcv[open]');
        assert.equal(await shownId(page), list[1]!.id, 'forward reopens the still shown last');
        await page.click('.mcv-close');
        await page.waitForSelector('dialog.mcv', { state: 'detached' });
        await page.waitForFunction(() => location.hash === '');
        assert.equal(page.url(), `${daemon.web}/`);
        assert.equal(await page.evaluate(() => history.state), null, 'back on the entry before the viewer');
      });

      test('#still=<id> reopens the still after a reload (restoreFromUrl); an unknown id opens nothing', async () => {
        await openAt(page, 3);
        await page.reload();
        await importModules(page);
        // The page restores it itself (app.js calls restoreFromUrl once its day is shown).
        await page.waitForSelector('dialog.mcv[open]');
        assert.equal(await shownId(page), list[3]!.id);
        await page.keyboard.press('Escape');
        await page.waitForSelector('dialog.mcv', { state: 'detached' });
        assert.equal(page.url(), `${daemon.web}/`, 'closing goes back to the page entry');

        // A shared link, opened in a fresh tab: closing clears the hash without leaving the page.
        const shared = await context.newPage();
        await shared.goto(`${daemon.web}/#still=${encodeURIComponent(list[2]!.id)}`);
        await importModules(shared);
        await shared.waitForSelector('dialog.mcv[open]');
        assert.equal(await shared.getAttribute('dialog.mcv', 'data-id'), list[2]!.id);
        await shared.click('.mcv-close');
        await shared.waitForSelector('dialog.mcv', { state: 'detached' });
        assert.equal(shared.url(), `${daemon.web}/`);
        await shared.goto(`${daemon.web}/#still=20990101T000000.000`);
        await importModules(shared);
        assert.equal(await shared.evaluate(() => (window as any).viewer.restoreFromUrl((window as any).stills)), false);
        assert.equal(await shared.$('dialog.mcv'), null);
        await shared.close();
      });
    });
  }
});
