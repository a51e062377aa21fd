// The one way tests and benches start Chromium: Debian's, headless; under `npm run test:at` its pages get
// the faked time.
import fs from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { CLOCK_ENV } from './setup.ts';

export const CHROMIUM = '/usr/bin/chromium';

export async function launch(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error('Chromium is missing: install it with  apt-get install -y chromium');
  // On a faked clock (npm run test:at) Chromium runs on the real one (under libfaketime Debian's launcher
  // script fails and the GPU processes spin); each page then gets the faked time through Playwright's clock.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !(k in CLOCK_ENV)));
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    env,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const offset = /^([+-]\d+)s$/.exec(CLOCK_ENV.FAKETIME ?? '')?.[1]; // test:at's form: "+Ns" or "-Ns"
  if (offset === undefined) return browser;
  const newContext = browser.newContext.bind(browser);
  browser.newContext = async (options) => {
    const context = await newContext(options);
    // Measured with Playwright 1.65: when Playwright's own Date.now() (faked too) is behind the browser's,
    // it adds the difference to `time`; when ahead, it does not. Hence min(0, offset). The clock runs on.
    await context.clock.install({ time: Date.now() + Math.min(0, Number(offset)) * 1000 });
    return context;
  };
  browser.newPage = async (options) => (await browser.newContext(options)).newPage();
  return browser;
}
