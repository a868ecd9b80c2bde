// Shared browser set-up: Debian's Chromium, headless, with the flags this network needs.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
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

/**
 * Scrolls the page at `speed` px/s for `seconds`, one step a frame, and reports the frame rate,
 * the longest frame, the visible timeline cells seen and how many of them had no placeholder
 * colour yet (every fifth frame), and the largest DOM seen. The browser tests and the
 * benchmarks measure the timeline in motion with it.
 */
export async function fastScroll(page, speed, seconds) {
  return page.evaluate(
    async ([speed, seconds]) => {
      const frames = [];
      let seen = 0;
      let grey = 0;
      let dom = 0;
      const start = performance.now();
      let last = start;
      await new Promise((done) => {
        const step = (now) => {
          frames.push(now - last);
          window.scrollBy(0, (speed * (now - last)) / 1000);
          last = now;
          if (frames.length % 5 === 0) {
            dom = Math.max(dom, document.getElementsByTagName('*').length);
            for (const cell of document.querySelectorAll('.vt .cell')) {
              const box = cell.getBoundingClientRect();
              if (box.bottom < 52 || box.top > innerHeight) continue;
              seen += 1;
              if (cell.classList.contains('vt-loading')) grey += 1;
            }
          }
          if (now - start < seconds * 1000) requestAnimationFrame(step);
          else done();
        };
        requestAnimationFrame(step);
      });
      const elapsed = performance.now() - start;
      return { fps: (frames.length - 1) / (elapsed / 1000), longestFrame: Math.max(...frames.slice(1)), seen, grey, dom };
    },
    [speed, seconds],
  );
}

/** A new user, added by the administrator and signed in: the saved state of their browser, for
 * tests that change a library as a whole (emptying its trash, exporting it). */
/** Posts a form from `page`, as its user, asking for JSON; the status and the body's text. */
export async function postForm(page, path, body) {
  return page.evaluate(
    async ({ path, body }) => {
      const response = await fetch(path, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
        body,
      });
      return { status: response.status, body: await response.text() };
    },
    { path, body },
  );
}

export async function newUser(browser) {
  const admin = await signedIn(browser);
  const page = await admin.newPage();
  const name = `user-${randomBytes(4).toString('hex')}`;
  const password = 'a long enough password';
  await page.goto(`${baseUrl}/users`);
  await page.getByLabel('User name').fill(name);
  await page.getByLabel('Password (8 characters or more)').fill(password);
  await Promise.all([page.waitForURL(/\/users\?added=/), page.getByRole('button', { name: 'Add the user' }).click()]);
  await admin.close();

  const context = await browser.newContext();
  const own = await context.newPage();
  await own.goto(`${baseUrl}/signin`);
  await own.getByLabel('User name').fill(name);
  await own.getByLabel('Password').fill(password);
  await Promise.all([own.waitForURL(`${baseUrl}/`), own.getByRole('button', { name: 'Sign in' }).click()]);
  const state = await context.storageState();
  await context.close();
  return state;
}

/** Drops the file at `url` on the timeline as a file called `name` of MIME `type`, as a person
 * drags one from their desktop, once the uploader island listens; the upload's JSON answer. */
export async function dropOnTimeline(page, url, name, type) {
  await page.locator('.uploader').waitFor();
  await page.waitForFunction(() => document.querySelector('.uploader')?.closest('leptos-island') !== null);
  await page.waitForTimeout(500);
  const dataTransfer = await page.evaluateHandle(({ base64, name, type }) => {
    const binary = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([binary], name, { type }));
    return transfer;
  }, { base64: readFileSync(url).toString('base64'), name, type });
  const answered = page.waitForResponse((response) => response.url().endsWith('/api/upload'));
  await page.dispatchEvent('body', 'drop', { dataTransfer });
  return (await answered).json();
}

/** Uploads the test photographs `names` (from `.fixtures/photos`) as the page's user and waits
 * until each is processed; their ids. */
export async function uploadPhotos(page, names) {
  const files = names.map((name) => ({
    name,
    base64: readFileSync(new URL(`../../.fixtures/photos/${name}`, import.meta.url)).toString('base64'),
  }));
  const ids = await page.evaluate(async (files) => {
    const form = new FormData();
    for (const { name, base64 } of files) {
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      form.append('file', new File([bytes], name, { type: 'image/jpeg' }));
    }
    const response = await fetch('/api/upload', { method: 'POST', body: form, headers: { Accept: 'application/json' } });
    const answer = await response.json();
    return answer.files.map((file) => file.photo_id);
  }, files);
  if (ids.length !== names.length) throw new Error(`uploaded ${ids.length} of ${names.length}`);
  for (const id of ids) {
    for (let tries = 0; ; tries += 1) {
      const ready = await page.evaluate(async (id) => {
        const response = await fetch(`/p/${id}`);
        return response.ok && (await response.text()).includes('class="preview"');
      }, id);
      if (ready) break;
      if (tries >= 120) throw new Error(`photo ${id} was not processed`);
      await page.waitForTimeout(500);
    }
  }
  return ids;
}
