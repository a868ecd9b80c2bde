// The timeline in a real browser: server-rendered grid without JavaScript, the timeline
// island hydrating and persisting favourites through its server function, and screenshots.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { baseUrl, launch, resultsDir, signedIn, watchErrors } from './browser.mjs';

const photos = Number(process.env.E2E_PHOTOS ?? '1000000');
let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test('the grid is server-rendered and paints with JavaScript disabled', async () => {
  const context = await signedIn(browser, { javaScriptEnabled: false });
  const page = await context.newPage();
  const response = await page.goto(baseUrl);
  assert.equal(response.status(), 200);
  assert.equal(await page.locator('.grid .cell').count(), 120);
  assert.match(await page.locator('.timeline-head h1').innerText(), /demo.s library/);
  // Other tests of the run upload photos (the library is shared), so at least the seeded ones.
  const total = Number(await page.locator('.summary').getAttribute('data-total'));
  assert.ok(total >= photos, `${total} photos, ${photos} seeded`);
  const summary = await page.locator('.summary').innerText();
  assert.match(summary, new RegExp(`^${total.toLocaleString('en-US')} photos in \\d+ months`));
  const box = await page.locator('.grid .cell').first().boundingBox();
  assert.ok(box.width > 40 && Math.abs(box.width - box.height) < 1, `cell is not square: ${JSON.stringify(box)}`);
  await page.screenshot({ path: `${resultsDir}/timeline-no-js.png` });
  await context.close();
});

test('a favourite set in the timeline island is stored by its server function', async () => {
  const context = await signedIn(browser, { viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = watchErrors(page);
  let navigations = 0;
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) navigations += 1;
  });
  await page.goto(baseUrl);
  const first = page.locator('.vt-cell[data-photo-id]').first();
  await first.waitFor({ timeout: 30_000 });
  const photoId = await first.getAttribute('data-photo-id');
  const heart = () => page.locator(`.vt-cell[data-photo-id="${photoId}"] button.fav`);
  assert.equal(await heart().getAttribute('aria-pressed'), 'false');

  const saved = page.waitForResponse((r) => r.url().endsWith('/api/set_favourite'));
  await heart().click();
  assert.equal((await saved).status(), 200);
  await page.waitForFunction(
    (id) => document.querySelector(`.vt-cell[data-photo-id="${id}"] button.fav`)?.getAttribute('aria-pressed') === 'true',
    photoId,
  );
  assert.equal(navigations, 1, 'the click navigated instead of updating in place');
  await page.screenshot({ path: `${resultsDir}/timeline.png` });

  await page.reload();
  await heart().waitFor({ timeout: 30_000 });
  assert.equal(await heart().getAttribute('aria-pressed'), 'true', 'the favourite was not stored');
  assert.equal(
    await page.locator(`.grid [data-photo-id="${photoId}"] button.fav`).getAttribute('aria-pressed'),
    'true',
    'the server-rendered cell disagrees',
  );

  const unsaved = page.waitForResponse((r) => r.url().endsWith('/api/set_favourite'));
  await heart().click();
  assert.equal((await unsaved).status(), 200);
  await page.reload();
  await heart().waitFor({ timeout: 30_000 });
  assert.equal(await heart().getAttribute('aria-pressed'), 'false');
  assert.deepEqual(errors, []);
  await context.close();
});

test('without JavaScript the favourite button still works as a form', async () => {
  const context = await signedIn(browser, { javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(baseUrl);
  const second = page.locator('.grid .cell').nth(1);
  const photoId = await second.getAttribute('data-photo-id');
  await Promise.all([page.waitForURL(`${baseUrl}/`), second.locator('button.fav').click()]);
  await page.waitForLoadState();
  const after = page.locator(`[data-photo-id="${photoId}"] button.fav`);
  assert.equal(await after.getAttribute('aria-pressed'), 'true');
  await context.close();
});

test('a phone-sized screen keeps cells square and the scrubber narrow', async () => {
  const context = await signedIn(browser, { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
  const page = await context.newPage();
  await page.goto(baseUrl);
  await page.locator('.vt-cell[data-photo-id]').first().waitFor({ timeout: 30_000 });
  assert.equal(await page.locator('nav.months').isVisible(), false);
  const box = await page.locator('.vt-cell').first().boundingBox();
  assert.ok(Math.abs(box.width - box.height) < 1);
  const scrubber = await page.locator('.vt-scrubber').boundingBox();
  assert.ok(scrubber.width <= 80, `scrubber is ${scrubber.width}px wide`);
  await page.screenshot({ path: `${resultsDir}/timeline-phone.png` });
  await context.close();
});
