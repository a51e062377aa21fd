// The page's budgets in Chromium (issue 16): loaded and showing the latest still, its own JS+CSS gzipped,
// a day of 288 stills rendered. Part of `npm run bench`; alone: `node --import tsx bench/page.ts`.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import { addDays } from '../src/storage/layout.ts';
import { every, launch, login, pageDaemon, seedStills } from '../test/helpers/page.ts';

const ASSETS = path.join(import.meta.dirname, '..', 'ui', 'assets');
const RUNS = 10;

export interface PageBudgets {
  /** Median ms from navigation start to the first frame with the latest still on screen (cold HTTP cache). */
  loadMs: number;
  /** The same for a bare HTML page holding only that image (no CSS, no script), served by a plain Node server. */
  floorMs: number;
  /** The stylesheets and scripts the page loads (with the viewer and player), gzipped, and their names. */
  gzipBytes: number;
  assets: string[];
  /** Median ms from choosing a day of 288 stills to its strip rendered and painted (fetch included). */
  dayMs: number;
  /** The same, rendering alone (the day's JSON already fetched). */
  renderMs: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

export async function pageBudgets(): Promise<PageBudgets> {
  const pd = await pageDaemon();
  const browser = await launch();
  try {
    const { store } = pd.daemon.app;
    const today = pd.daemon.app.clock.day(new Date());
    const busy = addDays(today, -1);
    await seedStills(store, every(new Date(`${busy}T00:00:00Z`), 5, 288));
    await pd.daemon.app.captures.capture('schedule');
    await pd.daemon.app.timelapses.build(busy, 'web');

    const first = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const loaded = new Set<string>();
    const page = await first.newPage();
    await login(page, pd.daemon.web);
    const state = await first.storageState();
    // What the page loads (the login page's script is not the page's).
    page.on('request', (r) => {
      const m = /\/assets\/([\w.-]+\.(?:js|css))$/.exec(new URL(r.url()).pathname);
      if (m) loaded.add(m[1]!);
    });
    await (await first.newCDPSession(page)).send('Network.setCacheDisabled', { cacheDisabled: true });
    await page.reload();
    await page.waitForSelector('html[data-ready]');

    // Everything the page loads: its own modules, then the viewer (a thumbnail opened) and the player (a timelapse shown).
    await page.fill('#day', busy);
    await page.dispatchEvent('#day', 'change');
    await page.waitForFunction((n) => document.querySelectorAll('#strip .thumb').length === n, 288);
    await page.waitForFunction(() => document.getElementById('player')!.childElementCount > 0);
    await page.click('#strip .thumb');
    await page.waitForSelector('dialog[open]');
    const assets = [...loaded].sort();
    const gzipBytes = assets.reduce((n, f) => n + zlib.gzipSync(fs.readFileSync(path.join(ASSETS, f))).length, 0);
    await page.keyboard.press('Escape');

    // A day of 288 stills: chosen in the date picker, until its strip is painted.
    const pick = (day: string, n: number) =>
      page.evaluate(`(async () => {
        const t0 = performance.now();
        const input = document.getElementById('day');
        input.value = ${JSON.stringify(day)};
        input.dispatchEvent(new Event('change'));
        await new Promise((resolve) => {
          const done = () => document.getElementById('day-title').textContent.includes(${JSON.stringify(day)}) && document.querySelectorAll('#strip .thumb').length === ${n};
          if (done()) return resolve();
          const obs = new MutationObserver(() => done() && (obs.disconnect(), resolve()));
          obs.observe(document.getElementById('main') || document.body, { subtree: true, childList: true, characterData: true });
        });
        await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
        return performance.now() - t0;
      })()`) as Promise<number>;
    const todayCount = (await store.listDay(today)).length;
    const dayTimes: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      await pick(today, todayCount);
      dayTimes.push(await pick(busy, 288));
      // Settled before the next choice: the player has loaded the day's timelapse (5-6 MB), as it would
      // have by the time a person chooses again; otherwise that load is timed into the next pick.
      await page.waitForSelector('#player .mcp[data-mode]');
    }
    // Rendering alone: the fetched JSON handed to renderDay, then layout and a painted frame.
    const renderTimes = (await page.evaluate(`(async () => {
      const { renderDay } = await import('/assets/day.js');
      const data = await (await fetch('/api/days/${busy}')).json();
      const times = [];
      for (let i = 0; i < ${RUNS}; i++) {
        const t0 = performance.now();
        renderDay(data);
        document.body.offsetHeight;
        await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
        times.push(performance.now() - t0);
      }
      return times;
    })()`)) as number[];
    await first.close();

    // Page load with a cold HTTP cache each run (the browser itself warm): navigation start to the first
    // frame with the latest still decoded on screen, watched from the page's first instant.
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, storageState: state });
    await context.addInitScript(`(() => {
      const tick = () => {
        const img = document.getElementById('latest-img');
        if (img && img.complete && img.naturalWidth > 0 && img.getBoundingClientRect().height > 0) window.__latestShown = performance.now();
        else requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    })()`);
    const p = await context.newPage();
    const cdp = await context.newCDPSession(p);
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
    const shown = async (url: string) => {
      await p.goto(url);
      await p.waitForFunction(() => (window as unknown as { __latestShown?: number }).__latestShown !== undefined);
      return p.evaluate(() => (window as unknown as { __latestShown: number }).__latestShown);
    };
    /** Loads `url` RUNS + 2 times in a row (same origin each time, as a person reloading); two are warm-up. */
    const series = async (url: string) => {
      const times: number[] = [];
      for (let i = 0; i < RUNS + 2; i++) times.push(await shown(url));
      return times.slice(2);
    };
    const loads = await series(`${pd.daemon.web}/`);
    // The floor: what this browser and machine take to show the same image with nothing else on the page.
    const src = await p.evaluate(() => (document.getElementById('latest-img') as HTMLImageElement).currentSrc);
    const image = await (await p.request.get(src)).body();
    const bare = await floorServer(image);
    const floors = await series(bare.url).finally(() => {
      bare.server.close();
      bare.server.closeAllConnections(); // the browser keeps its connections open
    });
    await context.close();
    return { loadMs: median(loads), floorMs: median(floors), gzipBytes, assets, dayMs: median(dayTimes), renderMs: median(renderTimes) };
  } finally {
    await browser.close();
    await pd.stop();
  }
}

/** A plain HTTP server with one HTML page that holds only `image`, shown as the page shows its still. */
async function floorServer(image: Buffer): Promise<{ server: http.Server; url: string }> {
  const html =
    '<!doctype html><html lang="en"><head><meta charset="utf-8" /><title>floor</title></head><body>' +
    '<img id="latest-img" alt="" src="/still.jpg" width="480" height="360" style="width: 960px; height: auto" /></body></html>';
  const server = http.createServer((req, res) => {
    const [type, body] = req.url === '/still.jpg' ? ['image/jpeg', image] : ['text/html; charset=utf-8', Buffer.from(html)];
    res.writeHead(200, { 'content-type': type, 'content-length': body.length, 'cache-control': 'no-store' });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

/** The bench's table rows: measure, value, ratio, target. */
export function pageRows(b: PageBudgets): Array<[string, string, string, string]> {
  const verdict = (v: number, limit: number) => (v <= limit ? 'met' : 'MISSED');
  return [
    ['page loaded and showing the latest still (Chromium, cold cache, loopback)', `${b.loadMs.toFixed(1)} ms`, verdict(b.loadMs, 50), '<= 50 ms'],
    [
      '  floor: a bare HTML page with only the same image (same browser, same run)',
      `${b.floorMs.toFixed(1)} ms`,
      `page ${(b.loadMs / b.floorMs).toFixed(2)}x floor`,
      '',
    ],
    [
      `page's own JS+CSS gzipped (${b.assets.length} files: ${b.assets.join(' ')})`,
      `${(b.gzipBytes / 1024).toFixed(1)} KB`,
      verdict(b.gzipBytes, 40 * 1024),
      '<= 40 KB',
    ],
    ['a day of 288 stills: chosen -> strip painted (fetch included)', `${b.dayMs.toFixed(1)} ms`, verdict(b.dayMs, 100), '<= 100 ms'],
    ['  rendering alone (renderDay + layout + frame)', `${b.renderMs.toFixed(1)} ms`, '', ''],
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = pageRows(await pageBudgets());
  for (const r of rows) console.log(r.join(' | '));
}
