// The one way tests start Chromium: Debian's, headless.
import fs from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { CLOCK_ENV } from './setup.ts';

export const CHROMIUM = '/usr/bin/chromium';

export function launch(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error('Chromium is missing: install it with  apt-get install -y chromium');
  // On a faked clock (npm run test:at) Chromium keeps the real one: under libfaketime Debian's launcher
  // script fails and the GPU processes spin.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !(k in CLOCK_ENV)));
  return chromium.launch({
    executablePath: CHROMIUM,
    env,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}
