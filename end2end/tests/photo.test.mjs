// The photo page and the trash: a cell opens its photo, the arrow keys walk the timeline,
// Esc goes back, and a photo moved to the trash comes back with one click.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { baseUrl, launch, resultsDir, signedIn, watchErrors } from './browser.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test('a cell opens its photo page and the keyboard walks the timeline', async () => {
  const context = await signedIn(browser, { viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(baseUrl);
  const cell = page.locator('.vt [data-photo-id]').nth(1);
  await cell.waitFor({ timeout: 30_000 });
  const photoId = await cell.getAttribute('data-photo-id');
  await cell.locator('a.cell-link').click();
  await page.waitForURL(`${baseUrl}/p/${photoId}`);
  assert.equal(await page.locator('.photo-page').getAttribute('data-photo-id'), photoId);
  assert.match(await page.locator('.facts').innerText(), /Camera/);
  await page.screenshot({ path: `${resultsDir}/photo.png` });

  // The keys island loads on its own, after the page: wait until it answers.
  const older = await page.locator('a[rel="next"]').getAttribute('href');
  const newer = await page.locator('a[rel="prev"]').getAttribute('href');
  await page.waitForFunction(() => document.querySelector('leptos-island') !== null);
  await pressUntil(page, 'ArrowRight', `${baseUrl}${older}`);
  await pressUntil(page, 'ArrowLeft', `${baseUrl}/p/${photoId}`);
  assert.equal(newer !== null, true, 'the second photo has a newer one');
  await pressUntil(page, 'Escape', `${baseUrl}/`);
  assert.deepEqual(errors, []);
  await context.close();
});

/** Presses `key` until the page is at `url`: the island may still be hydrating at first. */
async function pressUntil(page, key, url) {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    await page.keyboard.press(key);
    try {
      await page.waitForURL(url, { timeout: 500 });
      await page.waitForLoadState();
      return;
    } catch {
      // not yet hydrated; try again
    }
  }
  assert.fail(`${key} did not lead to ${url} (at ${page.url()})`);
}

test('a photo moved to the trash leaves the timeline and is restored from the trash', async () => {
  const context = await signedIn(browser, { javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(baseUrl);
  const total = Number(await page.locator('.summary').getAttribute('data-total'));
  const photoId = await page.locator('.grid .cell').first().getAttribute('data-photo-id');

  await page.goto(`${baseUrl}/p/${photoId}`);
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Move to trash' }).click()]);
  assert.match(await page.locator('.in-trash').innerText(), /In the trash since/);
  await page.goto(baseUrl);
  assert.equal(Number(await page.locator('.summary').getAttribute('data-total')), total - 1);
  assert.equal(await page.locator(`.grid [data-photo-id="${photoId}"]`).count(), 0);

  await page.goto(`${baseUrl}/trash`);
  const trashed = page.locator(`.grid [data-photo-id="${photoId}"]`);
  assert.equal(await trashed.count(), 1, 'the photo is not in the trash');
  await page.screenshot({ path: `${resultsDir}/trash.png` });
  await Promise.all([page.waitForNavigation(), trashed.getByRole('button', { name: 'Restore' }).click()]);
  assert.equal(await page.locator(`.grid [data-photo-id="${photoId}"]`).count(), 0);
  await page.goto(baseUrl);
  assert.equal(Number(await page.locator('.summary').getAttribute('data-total')), total);
  await context.close();
});

test('the photo page fits a phone', async () => {
  const context = await signedIn(browser, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  await page.goto(`${baseUrl}/p/1`);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `the page scrolls sideways: ${width}px`);
  await page.screenshot({ path: `${resultsDir}/photo-phone.png`, fullPage: true });
  await context.close();
});
