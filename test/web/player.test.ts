// The timelapse player (ui/assets/player.js) in real headless Chromium, on a timelapse the app built from
// seeded stills of distinct colours, loaded from the app's /assets under its CSP: play advances, pause stops,
// the scrubber seeks (the frame's colour and time change), speed shortens the frame interval; without
// ImageDecoder it splits the WebP itself, and without that too it falls back to a plain <img> with a note.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { contrasts, importModules, launch, loggedIn, seededDaemon, SIZES } from '../helpers/browser.ts';
import type { Daemon } from '../helpers/mqtt.ts';

const COLOURS = ['#cc2222', '#22cc22', '#2222cc', '#cccc22', '#cc22cc'];
const RGB = COLOURS.map((c) => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16)));
const FRAME_MS = 250;

interface Timelapse {
  url: string;
  frames: number;
  frame_ms: number;
  frame_times: string[];
}

// The page mounts its own player for the day's timelapse (#player); the one under test is in #player-box.
async function mount(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as any;
    const box = document.createElement('div');
    box.id = 'player-box';
    document.body.prepend(box);
    w.mounted = w.player.mountPlayer(box, w.day.timelapse);
  });
  await page.waitForSelector('#player-box .mcp[data-mode]');
}

const attr = (page: Page, name: string) => page.getAttribute('#player-box .mcp', `data-${name}`);

/** The colour at the centre of the canvas, and which seeded still it is closest to. */
async function shownColour(page: Page): Promise<number> {
  const px = await page.$eval('#player-box .mcp-screen', (c) => {
    const canvas = c as HTMLCanvasElement;
    return [
      ...canvas
        .getContext('2d')!
        .getImageData(canvas.width >> 1, canvas.height >> 1, 1, 1)
        .data.slice(0, 3),
    ];
  });
  const dist = RGB.map((rgb) => rgb.reduce((n, v, i) => n + Math.abs(v - px[i]!), 0));
  const best = dist.indexOf(Math.min(...dist));
  assert.ok(dist[best]! < 60, `a seeded colour, got ${px}`);
  return best;
}

/** Frame changes (data-shown) and their times while `ms` pass; the median interval between them. */
async function medianInterval(page: Page, ms: number): Promise<{ median: number; changes: number }> {
  const times = await page.evaluate(
    (wait) =>
      new Promise<number[]>((resolve) => {
        const seen: number[] = [];
        const root = document.querySelector('#player-box .mcp')!;
        const obs = new MutationObserver(() => seen.push(performance.now()));
        obs.observe(root, { attributes: true, attributeFilter: ['data-shown'] });
        setTimeout(() => (obs.disconnect(), resolve(seen)), wait);
      }),
    ms,
  );
  const gaps = times
    .slice(1)
    .map((t, i) => t - times[i]!)
    .sort((a, b) => a - b);
  return { median: gaps[gaps.length >> 1] ?? Infinity, changes: times.length };
}

describe('the timelapse player in Chromium', () => {
  let daemon: Daemon;
  let browser: Browser;
  let stillTimes: string[];
  before(async () => {
    daemon = await seededDaemon(COLOURS, { MONCAM_TIMELAPSE_FRAME_MS: String(FRAME_MS) });
    const today = daemon.app.clock.day(new Date());
    await daemon.app.timelapses!.build(today, 'web');
    stillTimes = (await daemon.app.store.listDay(today)).map((s) => s.capturedAtIso);
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
      let problems: string[];
      before(async () => {
        const { name: _name, ...options } = size;
        context = await browser.newContext(options);
        ({ page, problems } = await loggedIn(context, daemon.web));
        await importModules(page);
        await mount(page);
      });
      after(() => context?.close());

      test('decodes with ImageDecoder into a canvas: the first frame and its capture time; labelled controls; fits the screen', async () => {
        const t = (await page.evaluate(() => (window as any).day.timelapse)) as Timelapse;
        assert.equal(t.frames, COLOURS.length);
        assert.deepEqual(t.frame_times, stillTimes, 'the API lists each frame time');
        assert.equal(await attr(page, 'mode'), 'decoder');
        await page.waitForSelector('#player-box .mcp[data-shown="0"]');
        assert.equal(await shownColour(page), 0);
        assert.equal(await page.textContent('#player-box .mcp-time'), stillTimes[0]!.slice(0, 19).replace('T', ' '));
        assert.equal(await page.getAttribute('#player-box .mcp-time', 'aria-live'), 'polite');
        assert.match((await page.textContent('#player-box .mcp figcaption'))!, /^Timelapse of \d{4}-\d\d-\d\d · 5 stills$/);
        assert.equal(await page.getAttribute('#player-box .mcp-play', 'aria-label'), 'Play');
        assert.equal(await page.getAttribute('#player-box .mcp-seek', 'aria-label'), 'Frame');
        assert.equal(await page.getAttribute('#player-box .mcp-speed', 'aria-label'), 'Speed');
        assert.deepEqual(await page.$$eval('#player-box .mcp-speed option', (o) => o.map((x) => (x as HTMLOptionElement).value)), ['0.5', '1', '2', '4']);
        for (const sel of ['#player-box .mcp-play', '#player-box .mcp-speed', '#player-box .mcp-seek']) {
          const b = (await page.locator(sel).boundingBox())!;
          assert.ok(b.height >= 44 && b.x >= 0 && b.x + b.width <= size.viewport.width, `${sel}: ${JSON.stringify(b)}`);
        }
        const canvas = (await page.locator('#player-box .mcp-screen').boundingBox())!;
        assert.ok(canvas.width <= size.viewport.width && canvas.width > 0);
        assert.deepEqual(problems, []);
      });

      test('WCAG AA contrast in light and dark on the page: time, title and buttons 4.5:1', async () => {
        for (const colorScheme of ['light', 'dark'] as const) {
          await page.emulateMedia({ colorScheme });
          const ratios = await contrasts(page, ['#player-box .mcp-time', '#player-box .mcp figcaption', '#player-box .mcp-play', '#player-box .mcp-speed']);
          for (const [sel, ratio] of Object.entries(ratios)) assert.ok(ratio >= 4.5, `${colorScheme} ${sel}: ${ratio}`);
        }
        await page.emulateMedia({ colorScheme: null });
      });

      test('the scrubber seeks (by value and by arrow key): the colour and the time shown change', async () => {
        await page.fill('#player-box .mcp-seek', '2');
        await page.waitForSelector('#player-box .mcp[data-shown="2"]');
        assert.equal(await shownColour(page), 2);
        assert.equal(await page.textContent('#player-box .mcp-time'), stillTimes[2]!.slice(0, 19).replace('T', ' '));
        assert.equal(await page.getAttribute('#player-box .mcp-seek', 'aria-valuetext'), stillTimes[2]!.slice(0, 19).replace('T', ' '));
        await page.focus('#player-box .mcp-seek');
        await page.keyboard.press('ArrowRight');
        await page.waitForSelector('#player-box .mcp[data-shown="3"]');
        assert.equal(await shownColour(page), 3);
        assert.equal(await page.textContent('#player-box .mcp-time'), stillTimes[3]!.slice(0, 19).replace('T', ' '));
      });

      test('play advances frames at frame_ms; 4x speed shortens the interval; pause stops', async () => {
        await page.focus('#player-box .mcp-play');
        await page.keyboard.press('Enter');
        assert.equal(await attr(page, 'playing'), 'true');
        assert.equal(await page.getAttribute('#player-box .mcp-play', 'aria-label'), 'Pause');
        assert.equal(await page.getAttribute('#player-box .mcp-time', 'aria-live'), 'off', 'not announced frame by frame while playing');
        const normal = await medianInterval(page, 1300);
        assert.ok(normal.changes >= 3, `frames advance: ${JSON.stringify(normal)}`);
        assert.ok(normal.median > FRAME_MS * 0.7 && normal.median < FRAME_MS * 2, `about ${FRAME_MS} ms a frame at 1x: ${JSON.stringify(normal)}`);
        await page.selectOption('#player-box .mcp-speed', '4');
        const fast = await medianInterval(page, 900);
        assert.ok(fast.changes > normal.changes, JSON.stringify({ normal, fast }));
        // At least 2x: each frame waits for its decode, which a loaded machine stretches past 4x's 62 ms.
        assert.ok(fast.median < normal.median / 2, `4x is faster: ${JSON.stringify({ normal, fast })}`);

        await page.click('#player-box .mcp-play');
        assert.equal(await attr(page, 'playing'), 'false');
        assert.equal(await page.getAttribute('#player-box .mcp-play', 'aria-label'), 'Play');
        const at = await attr(page, 'frame');
        const paused = await medianInterval(page, 500);
        assert.equal(paused.changes, 0, 'no frame changes while paused');
        assert.equal(await attr(page, 'frame'), at);
        const shown = Number(at);
        assert.equal(await shownColour(page), shown, 'the canvas holds the frame the scrubber names');
        assert.equal(await page.inputValue('#player-box .mcp-seek'), at);
        assert.equal(await page.textContent('#player-box .mcp-time'), stillTimes[shown]!.slice(0, 19).replace('T', ' '));
        assert.equal(await page.getAttribute('#player-box .mcp-time', 'aria-live'), 'polite');
        assert.deepEqual(problems, []);
      });

      test('destroy() stops it and removes it', async () => {
        await page.click('#player-box .mcp-play');
        await page.evaluate(() => (window as any).mounted.destroy());
        assert.equal(await page.$('#player-box .mcp'), null);
        await page.waitForTimeout(FRAME_MS * 2);
        assert.deepEqual(problems, [], 'no error from a timer left behind');
      });
    });
  }

  test('without ImageDecoder (plain HTTP on a LAN is no secure context): frames split from the WebP, seekable', async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    try {
      const { page, problems } = await loggedIn(context, daemon.web);
      await page.addInitScript('delete window.ImageDecoder');
      await page.reload();
      await importModules(page);
      await mount(page);
      assert.equal(await attr(page, 'mode'), 'frames');
      await page.waitForSelector('#player-box .mcp[data-shown="0"]');
      assert.equal(await shownColour(page), 0);
      await page.fill('#player-box .mcp-seek', '4');
      await page.waitForSelector('#player-box .mcp[data-shown="4"]');
      assert.equal(await shownColour(page), 4);
      await page.click('#player-box .mcp-play');
      await page.waitForSelector('#player-box .mcp[data-shown="0"]', { timeout: 2000 });
      assert.deepEqual(problems, []);

      // A timelapse made before frame times were recorded: the frame's number instead of its time.
      await page.evaluate(() => {
        const w = window as any;
        w.mounted.destroy();
        w.day.timelapse = { ...w.day.timelapse, frame_times: undefined };
      });
      await mount(page);
      await page.waitForSelector('#player-box .mcp[data-shown="0"]');
      assert.equal(await page.textContent('#player-box .mcp-time'), 'Frame 1 of 5');
      await page.fill('#player-box .mcp-seek', '3');
      await page.waitForSelector('#player-box .mcp[data-shown="3"]');
      assert.equal(await page.textContent('#player-box .mcp-time'), 'Frame 4 of 5');
    } finally {
      await context.close();
    }
  });

  test('without a way to decode frames: the animated WebP in an <img>, with a note', async () => {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    try {
      const { page } = await loggedIn(context, daemon.web);
      await page.addInitScript('delete window.ImageDecoder; delete window.createImageBitmap');
      await page.reload();
      await importModules(page);
      await mount(page);
      assert.equal(await attr(page, 'mode'), 'img');
      const t = (await page.evaluate(() => (window as any).day.timelapse)) as Timelapse;
      assert.equal(await page.getAttribute('#player-box .mcp img', 'src'), t.url);
      assert.equal(await page.isVisible('#player-box .mcp-note'), true);
      assert.equal(await page.isVisible('#player-box .mcp-controls'), false);
      assert.match((await page.textContent('#player-box .mcp-note'))!, /cannot be paused or scrubbed/);
      await page.waitForFunction(() => (document.querySelector('#player-box .mcp img') as HTMLImageElement).naturalWidth > 0);
    } finally {
      await context.close();
    }
  });
});
