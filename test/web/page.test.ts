// The page's behaviour in Chromium at a phone's 390x844 and a desktop's 1440x900: the day strip, day
// navigation, visit stills, opening a still, the keyboard, the timelapse section.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { addDays } from '../../src/storage/layout.ts';
import type { Still } from '../../src/storage/store.ts';
import { SIZES, launch, openPage, pageDaemon, seedStills, type PageDaemon } from '../helpers/page.ts';
import { notNearMidnight } from '../helpers/setup.ts';

const ASSETS = path.join(import.meta.dirname, '..', '..', 'ui', 'assets');
const HAS_VIEWER = fs.existsSync(path.join(ASSETS, 'viewer.js'));
const HAS_PLAYER = fs.existsSync(path.join(ASSETS, 'player.js'));

/** Yesterday's stills at fixed local times, so the strip's shape does not depend on the hour the test runs. */
const YESTERDAY_TIMES = ['01:10', '06:05', '06:25', '06:45', '09:00', '09:30', '15:00'];
const CHANGED = new Set([3]); // 06:45

async function goToDay(page: Page, day: string): Promise<void> {
  await page.fill('#day', day);
  await page.dispatchEvent('#day', 'change');
  await page.waitForFunction((d) => document.getElementById('day-title')!.textContent!.includes(d), day);
}

const thumbIds = (page: Page) => page.$$eval('#strip .thumb', (as) => as.map((a) => /\/images\/([^/]+)\//.exec(a.getAttribute('href')!)![1]));

describe('the page at phone and desktop sizes', () => {
  let pd: PageDaemon;
  let browser: Browser;
  let yesterday: string;
  let today: string;
  let seeded: Still[];
  before(async () => {
    await notNearMidnight(120_000, true); // yesterday's and today's stills, by the wall clock
    pd = await pageDaemon({ MONCAM_SCHEDULE_TIMEZONE: 'UTC' });
    today = pd.daemon.app.clock.day(new Date());
    yesterday = addDays(today, -1);
    seeded = await seedStills(
      pd.daemon.app.store,
      YESTERDAY_TIMES.map((t) => new Date(`${yesterday}T${t}:00.000Z`)),
      (i) => (CHANGED.has(i) ? 40 : 2),
    );
    await pd.daemon.app.captures.capture('schedule'); // one still today
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await pd?.stop();
  });

  for (const [name, size] of Object.entries(SIZES)) {
    describe(name, () => {
      test('the day strip: hours with stills side by side, empty hours collapsed, scene changes marked, uniform thumbnails', async () => {
        const { context, page } = await openPage(browser, pd.daemon.web, { size });
        try {
          await goToDay(page, yesterday);
          assert.deepEqual(
            await thumbIds(page),
            seeded.map((s) => s.id),
          );
          assert.deepEqual(await page.$$eval('#strip > .hour > .hour-label', (l) => l.map((x) => x.textContent)), ['01:00', '06:00', '09:00', '15:00']);
          assert.deepEqual(await page.$$eval('#strip > .gap .gap-hours', (l) => l.map((x) => x.textContent)), [
            '00:00',
            '02–05 h',
            '07–08 h',
            '10–14 h',
            '16–23 h',
          ]);
          // The three stills of 06:00 sit side by side on one line.
          const six = await page.$$eval('#strip > .hour', (hours) => [...hours[1]!.querySelectorAll('.thumb')].map((a) => a.getBoundingClientRect()));
          assert.equal(six.length, 3);
          assert.equal(new Set(six.map((r) => Math.round(r.top))).size, 1, `one line: ${JSON.stringify(six)}`);
          const sizes = await page.$$eval('#strip .thumb img', (imgs) =>
            imgs.map((i) => `${Math.round(i.getBoundingClientRect().width)}x${Math.round(i.getBoundingClientRect().height)}`),
          );
          assert.equal(new Set(sizes).size, 1, `uniform thumbnails: ${sizes.join(' ')}`);
          assert.deepEqual(await page.$$eval('#strip .thumb.changed', (as) => as.map((a) => a.textContent)), ['06:45, scene changed Δ 40 %']);
          assert.match((await page.textContent('#day-summary'))!, /^7 stills · 1 with a scene change/);
          const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
          assert.ok(overflow <= 0, `horizontal overflow ${overflow}px`);
        } finally {
          await context.close();
        }
      });

      test('day navigation: prev/next between days with stills, the date picker offers them; an empty day says so', async () => {
        const { context, page } = await openPage(browser, pd.daemon.web, { size });
        try {
          assert.match((await page.textContent('#day-title'))!, new RegExp(`Today · ${today}`));
          assert.deepEqual(await page.$$eval('#days-with-stills option', (o) => o.map((x) => (x as HTMLOptionElement).value)), [yesterday, today]);
          assert.equal(await page.getAttribute('#day', 'list'), 'days-with-stills');
          assert.equal(await page.getAttribute('#day', 'max'), today);
          assert.equal(await page.isDisabled('#next-day'), true, 'nothing after today');
          await page.click('#prev-day');
          await page.waitForFunction((d) => document.getElementById('day-title')!.textContent!.includes(d), yesterday);
          assert.equal(await page.locator('#strip .thumb').count(), YESTERDAY_TIMES.length);
          assert.equal(await page.isDisabled('#prev-day'), true, 'no day with stills before');
          await page.click('#next-day');
          await page.waitForFunction((d) => document.getElementById('day-title')!.textContent!.includes(d), today);
          const empty = addDays(yesterday, -3);
          await goToDay(page, empty);
          assert.equal(await page.textContent('#day-summary'), 'No stills on this day.');
          assert.equal(await page.locator('#strip .thumb').count(), 0);
          assert.equal(await page.isVisible('#strip'), false);
          assert.equal(await page.textContent('#timelapse-title'), `Timelapse of ${empty}`);
          assert.equal(await page.isVisible('#make-timelapse'), false, 'no stills, nothing to make');
        } finally {
          await context.close();
        }
      });

      test('a visit still shows as the latest (marked as not kept) but not in the day strip', async () => {
        const { context, page } = await openPage(browser, pd.daemon.web, { size });
        try {
          const before = await thumbIds(page);
          const record = await pd.daemon.app.captures.capture('visit');
          const tag = record.capture.capturedAtIso.slice(0, 19).replace('T', ' ');
          await page.waitForFunction((t) => document.getElementById('latest-time')!.textContent === t, tag);
          assert.match((await page.textContent('#latest-note'))!, /visit still, not kept/);
          assert.ok((await page.getAttribute('#latest-img', 'src'))!.includes(record.capture.id));
          await page.reload();
          await page.waitForSelector('html[data-ready]');
          const after = await thumbIds(page);
          assert.ok(!after.includes(record.capture.id), 'the visit still is not in the strip');
          assert.deepEqual(after, before);
          // The next kept still replaces it and appears in the strip live.
          const kept = await pd.daemon.app.captures.capture('web');
          await page.waitForFunction(
            (id) => [...document.querySelectorAll('#strip .thumb')].some((a) => a.getAttribute('href')!.includes(id)),
            kept.capture.id,
          );
          assert.doesNotMatch((await page.textContent('#latest-note'))!, /not kept/);
        } finally {
          await context.close();
        }
      });

      test('keyboard: the strip is one tab stop, arrows move within it with a visible focus, Enter opens the still', async () => {
        const { context, page } = await openPage(browser, pd.daemon.web, { size });
        try {
          await goToDay(page, yesterday);
          await page.focus('#next-day');
          await page.keyboard.press('Tab');
          assert.equal(await page.evaluate(() => document.activeElement?.classList.contains('thumb')), true, 'Tab lands on the strip');
          assert.equal(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.index), '0');
          await page.keyboard.press('ArrowRight');
          await page.keyboard.press('ArrowRight');
          assert.equal(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.index), '2');
          // The day fetched and drawn again (chosen twice, a live update): the focus stays on that still.
          await page.evaluate(() => ((window as unknown as { oldThumb: Element }).oldThumb = document.activeElement!));
          await page.dispatchEvent('#day', 'change');
          await page.waitForFunction(() => !document.getElementById('strip')!.contains((window as unknown as { oldThumb: Element }).oldThumb));
          assert.equal(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.index), '2', 'focus kept through a re-render');
          const outline = await page.evaluate(
            () => getComputedStyle(document.activeElement!).outlineStyle + ' ' + getComputedStyle(document.activeElement!).outlineWidth,
          );
          assert.match(outline, /^solid [1-9]/, `visible focus: ${outline}`);
          await page.keyboard.press('End');
          assert.equal(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.index), String(YESTERDAY_TIMES.length - 1));
          await page.keyboard.press('Shift+Tab');
          assert.equal(await page.evaluate(() => document.activeElement?.id), 'next-day', 'one tab stop: Shift+Tab leaves the strip');
          await page.keyboard.press('Tab');
          assert.equal(
            await page.evaluate(() => (document.activeElement as HTMLElement).dataset.index),
            String(YESTERDAY_TIMES.length - 1),
            'focus remembered',
          );
          await page.keyboard.press('Enter');
          const last = seeded.at(-1)!;
          if (HAS_VIEWER) {
            await page.waitForFunction((id) => location.hash === `#still=${id}`, last.id);
          } else {
            await page.waitForURL(new RegExp(`/images/${last.id.replace('.', '\\.')}/full\\.jpg$`));
          }
        } finally {
          await context.close();
        }
      });

      test('clicking a thumbnail or the latest time tag opens that still', async () => {
        const { context, page } = await openPage(browser, pd.daemon.web, { size });
        try {
          await goToDay(page, yesterday);
          const target = seeded[2]!;
          await page.click(`#strip .thumb[data-index="2"]`);
          if (HAS_VIEWER) {
            await page.waitForFunction((id) => location.hash === `#still=${id}`, target.id);
            await page.keyboard.press('Escape');
            await page.waitForFunction(() => !location.hash.startsWith('#still='));
          } else {
            await page.waitForURL(new RegExp(`/images/${target.id.replace('.', '\\.')}/full\\.jpg$`));
            await page.goBack();
            await page.waitForSelector('html[data-ready]');
          }
          const latest = pd.daemon.app.store.latest()!;
          await page.click('#latest-time');
          if (HAS_VIEWER) await page.waitForFunction((id) => location.hash === `#still=${id}`, latest.id);
          else await page.waitForURL(new RegExp(`/images/${latest.id.replace('.', '\\.')}/full\\.jpg$`));
        } finally {
          await context.close();
        }
      });

      test('a shared #still=<id> link of another day opens that day with the still in the viewer', async () => {
        if (!HAS_VIEWER) return;
        const { context } = await openPage(browser, pd.daemon.web, { size });
        try {
          const target = seeded[4]!;
          const page = await context.newPage(); // the link opened in a new tab
          await page.goto(`${pd.daemon.web}/#still=${encodeURIComponent(target.id)}`);
          await page.waitForSelector('dialog.mcv[open]');
          assert.equal(await page.getAttribute('dialog.mcv', 'data-id'), target.id);
          assert.match((await page.textContent('#day-title'))!, new RegExp(yesterday));
          await page.keyboard.press('Escape');
          await page.waitForSelector('dialog.mcv', { state: 'detached' });
          assert.equal(page.url(), `${pd.daemon.web}/`);
        } finally {
          await context.close();
        }
      });

      test('timelapse: labelled with its day; made on request and shown in the player', async () => {
        const { context, page } = await openPage(browser, pd.daemon.web, { size });
        try {
          await goToDay(page, yesterday);
          assert.equal(await page.textContent('#timelapse-title'), `Timelapse of ${yesterday}`);
          await page.click('#make-timelapse');
          await page.waitForFunction(() => /stills · [\d.]+ s · made/.test(document.getElementById('timelapse-status')!.textContent!), undefined, {
            timeout: 20_000,
          });
          assert.match((await page.textContent('#timelapse-status'))!, new RegExp(`^${YESTERDAY_TIMES.length} stills`));
          assert.equal(await page.textContent('#make-timelapse'), 'Update timelapse');
          // The player (player.js) or, without it, the animated WebP itself.
          await page.waitForFunction(() => document.getElementById('player')!.childElementCount > 0);
          if (HAS_PLAYER) {
            await page.waitForSelector('#player .mcp[data-mode]');
            assert.match((await page.textContent('#player .mcp figcaption'))!, new RegExp(`^Timelapse of ${yesterday} · ${YESTERDAY_TIMES.length} stills`));
          } else {
            assert.match((await page.getAttribute('#player img', 'src'))!, new RegExp(`/timelapse/${yesterday}\\.webp`));
          }
        } finally {
          await context.close();
        }
      });
    });
  }

  test('the timelapse is fetched only once the player is near the screen: a phone that does not scroll down fetches none', { skip: !HAS_PLAYER }, async () => {
    await pd.daemon.app.timelapses.build(yesterday, 'web');
    // A short screen, so that the player is more than two screens below the top.
    const { context, page } = await openPage(browser, pd.daemon.web, { size: { width: 390, height: 220 }, mobile: true });
    const fetched: string[] = [];
    page.on('request', (r) => {
      if (new URL(r.url()).pathname.startsWith('/timelapse/')) fetched.push(new URL(r.url()).pathname);
    });
    try {
      await goToDay(page, yesterday);
      await page.waitForFunction(() => /stills · [\d.]+ s · made/.test(document.getElementById('timelapse-status')!.textContent!));
      const below = await page.evaluate(() => document.getElementById('player')!.getBoundingClientRect().top / innerHeight);
      assert.ok(below > 2.2, `the player is ${below.toFixed(1)} screens down`);
      // Time for an IntersectionObserver's first report, the player module and its fetch, had it been near.
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(r, 300)))));
      assert.deepEqual(fetched, []);
      assert.equal(await page.$eval('#player', (p) => p.childElementCount), 0);
      await page.locator('#player').scrollIntoViewIfNeeded();
      await page.waitForSelector('#player .mcp[data-mode]');
      assert.deepEqual(fetched, [`/timelapse/${yesterday}.webp`]);
    } finally {
      await context.close();
    }
  });

  // Last: it adds stills to today.
  test('a new still arriving live while a keyboard user is in the strip: the focus stays on their still', async () => {
    await pd.daemon.app.captures.capture('schedule'); // two stills today
    const { context, page } = await openPage(browser, pd.daemon.web, { size: SIZES.desktop });
    try {
      const count = () => page.$$eval('#strip .thumb', (t) => t.length);
      const before = await count();
      assert.ok(before >= 2, `${before} stills today`);
      await page.focus('#strip .thumb[tabindex="0"]');
      await page.keyboard.press('ArrowRight');
      assert.equal(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.index), '1', 'in the strip');
      const focused = await page.evaluate(() => (document.activeElement as HTMLAnchorElement).getAttribute('href'));
      await pd.daemon.app.captures.capture('schedule');
      await page.waitForFunction((n) => document.querySelectorAll('#strip .thumb').length === n, before + 1);
      assert.equal(await page.evaluate(() => (document.activeElement as HTMLAnchorElement).getAttribute('href')), focused);
      assert.equal(await page.$$eval('#strip .thumb[tabindex="0"]', (t) => t.length), 1, 'one tab stop');
    } finally {
      await context.close();
    }
  });
});
