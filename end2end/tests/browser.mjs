// Shared browser set-up: Debian's Chromium, headless, with the flags this network needs.
import { chromium } from 'playwright-core';

export const baseUrl = process.env.E2E_BASE_URL ?? 'http://127.0.0.1:3000';
export const resultsDir = new URL('../results/', import.meta.url).pathname;

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** What headless Chromium needs on these machines; the benchmarks launch it the same way. */
export const chromiumFlags = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The session of the seeded library's owner, signed in once by run.mjs. */
export const session = process.env.E2E_SESSION;

/** A browser context signed in as the library's owner. */
export async function signedIn(browser, options = {}) {
  const context = await browser.newContext(options);
  await context.addCookies([
    { name: 'flashbulb_session', value: session ?? '', url: baseUrl, httpOnly: true, sameSite: 'Lax' },
  ]);
  return context;
}

export async function launch() {
  // Playwright gives every launch a fresh, empty profile directory of its own.
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumFlags });
}

/** Collects console errors and uncaught exceptions of a page, so tests can assert none. */
export function watchErrors(page) {
  const errors = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(String(error)));
  return errors;
}
