// Upload end to end: a photo dropped on the timeline is sent, processed by the job workers,
// and appears at the top of the timeline with its thumbnail, without a reload.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { baseUrl, dropOnTimeline, launch, resultsDir, signedIn, watchErrors } from './browser.mjs';

// A real phone photo without EXIF: it is dated when it arrives, so it is the newest photo.
const fixture = new URL('../../.fixtures/photos/IMG-20191006-WA0002.jpg', import.meta.url);

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test('a photo dropped on the timeline appears in it with its thumbnail', async () => {
  const context = await signedIn(browser, { viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(baseUrl);
  const before = Number(await page.locator('.summary').getAttribute('data-total'));
  // The uploader island loads lazily: dropping waits for it to listen.
  const uploaded = (await dropOnTimeline(page, fixture, 'whatsapp.jpg', 'image/jpeg')).files[0].photo_id;
  await page.locator('.upload-list li').first().waitFor();
  await page.screenshot({ path: `${resultsDir}/upload-progress.png` });
  // The live socket reports the processed photo; the timeline shows it without a reload.
  await page.locator('.upload-list li[data-state="added"]').waitFor({ timeout: 60_000 });
  await page.waitForFunction(
    (total) => document.querySelector('[data-live-count="photos"]')?.textContent.replace(/\D/g, '') === String(total),
    before + 1,
    { timeout: 30_000 },
  );
  const newest = page.locator(`.vt [data-photo-id="${uploaded}"]`);
  await newest.waitFor({ timeout: 30_000 });
  assert.equal(await page.locator('.vt [data-photo-id]').first().getAttribute('data-photo-id'), String(uploaded));
  const thumbnail = newest.locator('img.thumb');
  await thumbnail.waitFor();
  // The cell appears as soon as the hub reports the photo; its image may still be on its way.
  await thumbnail.evaluate((img) => img.complete || new Promise((loaded) => (img.addEventListener('load', loaded, { once: true }), img.addEventListener('error', loaded, { once: true }))));
  assert.ok(await thumbnail.evaluate((img) => img.complete && img.naturalWidth === 256), 'the thumbnail did not load');
  await page.screenshot({ path: `${resultsDir}/upload-done.png` });
  // Once every file is done, the list can be put away.
  await page.getByRole('button', { name: 'Dismiss' }).click();
  await page.locator('.upload-list').waitFor({ state: 'detached' });

  const id = await newest.getAttribute('data-photo-id');
  await page.goto(`${baseUrl}/p/${id}`);
  assert.equal(await page.locator('.photo-info h1').innerText(), 'whatsapp.jpg');
  await page.locator('img.preview').waitFor();
  await page.screenshot({ path: `${resultsDir}/photo-uploaded.png` });
  assert.deepEqual(errors, []);
  await context.close();
});
