// `npm run screenshots`: the docs' pictures of the page (ui/screenshots/{phone,desktop}-{light,dark}.png),
// taken in Chromium from a daemon on a temp data dir seeded with the real photo fixture, so the docs never
// show an old page.
import path from 'node:path';
import type { Camera } from '../src/camera/types.ts';
import { addDays } from '../src/storage/layout.ts';
import { SIZES, every, launch, openPage, pageDaemon, photoVariants, seedStills } from '../test/helpers/page.ts';

const OUT = path.join(import.meta.dirname, '..', 'ui', 'screenshots');

// The photo fixture stands in for the Pi camera (named as the Pi's backend, as a user's page shows it).
const photo = (await photoVariants())[4]!.original;
const camera: Camera = { backend: 'rpicam', description: 'the photo fixture', capture: async () => ({ jpeg: photo }) };
const pd = await pageDaemon({ MONCAM_SCHEDULE_ENABLED: 'true', MONCAM_SCHEDULE_CRON: '*/20 * * * *', MONCAM_CAMERA_NAME: 'Garden' }, { camera });
const browser = await launch();
try {
  const { app } = pd.daemon;
  const today = app.clock.day(new Date());
  const yesterday = addDays(today, -1);
  const at = (day: string, hh: number, mm: number) =>
    new Date(`${day}T${String(hh).padStart(2, '0')}:${String(mm).padStart(2, '0')}:00${app.clock.local(new Date(`${day}T12:00:00Z`)).iso.slice(23)}`);
  // Yesterday: every 20 minutes from 06:00 to 21:40, with a few scene changes; today so far likewise.
  await seedStills(app.store, every(at(yesterday, 6, 0), 20, 48));
  const now = Date.now();
  const todays = every(at(today, 6, 0), 20, 48).filter((d) => d.getTime() < now - 60_000);
  await seedStills(app.store, todays);
  await app.captures.capture('schedule');
  // Early in the day the docs show yesterday, a whole day.
  const day = todays.length >= 12 ? today : yesterday;
  await app.timelapses.build(day, 'web');

  for (const [name, size] of Object.entries(SIZES)) {
    for (const colorScheme of ['light', 'dark'] as const) {
      const { context, page } = await openPage(browser, pd.daemon.web, { size, colorScheme, mobile: name === 'phone' });
      if (day !== today) {
        await page.fill('#day', day);
        await page.dispatchEvent('#day', 'change');
        await page.waitForFunction((d) => document.getElementById('day-title')!.textContent!.includes(d), day);
      }
      await page.waitForFunction(() => [...document.images].filter((i) => i.getBoundingClientRect().top < innerHeight).every((i) => i.complete));
      await page.waitForTimeout(200); // the player's first frame
      const file = path.join(OUT, `${name}-${colorScheme}.png`);
      await page.screenshot({ path: file });
      console.log(`wrote ${path.relative(process.cwd(), file)}`);
      await context.close();
    }
  }
} finally {
  await browser.close();
  await pd.stop();
}
