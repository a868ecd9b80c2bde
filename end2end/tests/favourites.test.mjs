// Favourites: a heart set in the timeline shows on the favourites page, and removing it
// there (a plain form, with or without JavaScript) takes the photo off the page.
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

test('a photo favoured in the timeline is listed on the favourites page until removed', async () => {
  const context = await signedIn(browser, { viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(baseUrl);
  // The hearts answer in place once the island is awake; before, they are plain forms.
  await page.locator('.vt[data-active]').waitFor({ timeout: 30_000 });
  const cell = page.locator('.vt [data-photo-id]').nth(2);
  const photoId = await cell.getAttribute('data-photo-id');
  const saved = page.waitForResponse((r) => r.url().endsWith('/api/set_favourite'));
  await cell.locator('button.fav').click();
  assert.equal((await saved).status(), 200);

  await page.getByRole('link', { name: 'Favourites' }).click();
  await page.waitForURL(`${baseUrl}/favourites`);
  assert.equal(await page.getByRole('link', { name: 'Favourites' }).getAttribute('aria-current'), 'page');
  const listed = page.locator(`.grid [data-photo-id="${photoId}"]`);
  assert.equal(await listed.count(), 1, 'the new favourite is not listed');
  await page.screenshot({ path: `${resultsDir}/favourites.png` });

  await Promise.all([page.waitForURL(`${baseUrl}/favourites`), listed.locator('button.fav').click()]);
  await page.waitForLoadState();
  assert.equal(await page.locator(`.grid [data-photo-id="${photoId}"]`).count(), 0, 'still listed after removal');
  assert.deepEqual(errors, []);
  await context.close();
});
