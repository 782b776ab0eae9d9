/** Debian's chromium for the browser tests, driven by playwright-core; a test skips with the install hint when it is absent. */
import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';

const CHROMIUM = process.env.CONVKIT_CHROMIUM ?? '/usr/bin/chromium';

export const skipWithoutChromium: string | false = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is absent (install Debian's chromium: apt-get install -y chromium, or bash scripts/setup.sh --with-test-deps)`;

/** A headless browser with no network services of its own (pages are opened from file://). */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
