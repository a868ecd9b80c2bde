// Photos as phones take them: an iPhone's HEIC dropped on the timeline appears with its
// thumbnail, date and camera, standing the right way up; and the photo page's preview is
// chosen by the screen's width, so a phone fetches a small file and a large screen a sharp one.
// Each test has a user of its own, so the new photos are the whole library.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { baseUrl, dropOnTimeline, launch, newUser, resultsDir, uploadPhotos, watchErrors } from './browser.mjs';

// An iPhone 8 Plus photo held upright: coded on its side, turned by its container.
const heic = new URL('../../.fixtures/heif/heif_other/arrow.heic', import.meta.url);

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** Waits until `image` has loaded (or failed); whether it has pixels. */
async function loaded(image) {
  return image.evaluate(
    (img) =>
      new Promise((done) => {
        const settle = () => done(img.complete && img.naturalWidth > 0);
        if (img.complete) settle();
        else {
          img.addEventListener('load', settle, { once: true });
          img.addEventListener('error', settle, { once: true });
        }
      }),
  );
}

test('an iPhone HEIC dropped on the timeline appears with its thumbnail, date and camera, upright', async () => {
  const storageState = await newUser(browser);
  const context = await browser.newContext({ storageState, viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(baseUrl);
  const answer = await dropOnTimeline(page, heic, 'IMG_0001.HEIC', 'image/heic');
  assert.equal(answer.files[0].status, 'added', JSON.stringify(answer));
  const id = answer.files[0].photo_id;
  await page.locator('.upload-list li[data-state="added"]').waitFor({ timeout: 60_000 });

  // In the timeline, with its thumbnail, once the hub reports it processed.
  const cell = page.locator(`.vt [data-photo-id="${id}"]`);
  await cell.waitFor({ timeout: 60_000 });
  const thumbnail = cell.locator('img.thumb');
  await page.waitForFunction((id) => document.querySelector(`.vt [data-photo-id="${id}"] img.thumb`) !== null, id, { timeout: 60_000 });
  assert.ok(await loaded(thumbnail), 'the thumbnail did not load');
  assert.equal(await thumbnail.evaluate((img) => img.naturalWidth), 256);
  await page.screenshot({ path: `${resultsDir}/heic-timeline.png` });

  // Its page: the camera and the date it was taken, and a preview taller than wide.
  await page.goto(`${baseUrl}/p/${id}`);
  const facts = await page.locator('.facts').innerText();
  assert.match(facts, /Apple iPhone 8 Plus/);
  assert.match(facts, /20\d\d/);
  const preview = page.locator('img.preview');
  assert.ok(await loaded(preview), 'the preview did not load');
  const [width, height] = await preview.evaluate((img) => [img.naturalWidth, img.naturalHeight]);
  assert.ok(height > width, `the preview is ${width} × ${height}: lying on its side`);
  await page.screenshot({ path: `${resultsDir}/heic-photo.png` });
  assert.deepEqual(errors, []);
  await context.close();
});

test('the photo page fetches the preview its screen needs: small on a phone, large on a wide screen', async () => {
  const storageState = await newUser(browser);
  const setup = await browser.newContext({ storageState });
  const helper = await setup.newPage();
  await helper.goto(baseUrl);
  // A 6,000 × 4,000 camera photo: previews at 720, 1,440 and 2,560 pixels.
  const [id] = await uploadPhotos(helper, ['sony-alpha-6000.jpg']);
  await setup.close();

  for (const [viewport, wanted] of [
    [{ width: 390, height: 844 }, 'preview-720.avif'],
    // AVIF goes up to 1,440 pixels; wider screens get the 2,560-pixel WebP.
    [{ width: 2560, height: 1440 }, 'preview-2560.webp'],
  ]) {
    const context = await browser.newContext({ storageState, viewport });
    const page = await context.newPage();
    const errors = watchErrors(page);
    const previews = [];
    page.on('request', (request) => {
      if (/\/preview[^/]*$/.test(request.url())) previews.push(request.url().split('/').pop());
    });
    await page.goto(`${baseUrl}/p/${id}`);
    const preview = page.locator('img.preview');
    assert.ok(await loaded(preview), `the preview did not load at ${viewport.width} px`);
    const chosen = await preview.evaluate((img) => img.currentSrc.split('/').pop());
    assert.equal(chosen, wanted, `at ${viewport.width} px`);
    assert.deepEqual(previews, [wanted], `at ${viewport.width} px only its preview is fetched`);
    await page.screenshot({ path: `${resultsDir}/preview-${viewport.width}.png` });
    assert.deepEqual(errors, []);
    await context.close();
  }
});
