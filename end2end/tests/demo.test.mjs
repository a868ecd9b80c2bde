// A new user's demo library looks like a photo library: the seeded pictures, not flat tiles,
// on a laptop and on a phone.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { baseUrl, launch, resultsDir, watchErrors } from './browser.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

for (const [name, options] of [
  ['desktop', { viewport: { width: 1280, height: 900 } }],
  ['phone', { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true }],
]) {
  test(`the demo timeline shows pictures on a ${name}`, async () => {
    const context = await browser.newContext(options);
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(`${baseUrl}/signin`);
    await page.getByLabel('User name').fill('gallery');
    await page.getByLabel('Password').fill(process.env.E2E_PASSWORD);
    await Promise.all([page.waitForURL(`${baseUrl}/`), page.getByRole('button', { name: 'Sign in' }).click()]);
    // Every thumbnail on the first screen loads, and they are not all the same picture.
    await page.waitForFunction(() => {
      const onScreen = [...document.querySelectorAll('img.thumb')].filter((img) => img.getBoundingClientRect().top < innerHeight);
      return onScreen.length >= 6 && onScreen.every((img) => img.complete && img.naturalWidth === 256);
    });
    const sources = await page.evaluate(() =>
      [...document.querySelectorAll('img.thumb')]
        .filter((img) => img.getBoundingClientRect().top < innerHeight)
        .map((img) => {
          const canvas = document.createElement('canvas');
          canvas.width = 8;
          canvas.height = 8;
          const context = canvas.getContext('2d');
          context.drawImage(img, 0, 0, 8, 8);
          return Array.from(context.getImageData(0, 0, 8, 8).data).join(',');
        }),
    );
    assert.ok(new Set(sources).size >= 3, `only ${new Set(sources).size} different pictures on screen`);
    // A picture is not a flat tile: its pixels differ from top to bottom.
    for (const pixels of sources) {
      assert.ok(new Set(pixels.split(',').map(Number).filter((_, index) => index % 4 === 0)).size > 4, 'a flat tile');
    }
    await page.screenshot({ path: `${resultsDir}/demo-timeline-${name}.png` });
    assert.deepEqual(errors, []);
    await context.close();
  });
}
