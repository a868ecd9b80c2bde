// The timeline in a real browser: server-rendered grid without JavaScript, the timeline
// island hydrating and persisting favourites through its server function, and screenshots.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
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

test('a favourite set in the timeline is stored, from the server grid and the island alike', async () => {
  const context = await signedIn(browser, { viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = watchErrors(page);
  let navigations = 0;
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) navigations += 1;
  });
  const awake = async () => page.locator('.vt[data-active]').waitFor({ timeout: 30_000 });
  await page.goto(baseUrl);
  await awake();
  // The first cell is the server's; once the island is awake its heart answers in place.
  const first = page.locator('.vt .sections [data-photo-id]').first();
  const photoId = await first.getAttribute('data-photo-id');
  const heart = () => page.locator(`.vt [data-photo-id="${photoId}"] button.fav`);
  assert.equal(await heart().getAttribute('aria-pressed'), 'false');

  const saved = page.waitForResponse((r) => r.url().endsWith('/api/set_favourite'));
  await heart().click();
  // Optimistic: pressed before the server has answered.
  assert.equal(await heart().getAttribute('aria-pressed'), 'true');
  assert.equal((await saved).status(), 200);
  assert.equal(navigations, 1, 'the click navigated instead of updating in place');
  await page.screenshot({ path: `${resultsDir}/timeline.png` });

  await page.reload();
  await awake();
  assert.equal(await heart().getAttribute('aria-pressed'), 'true', 'the favourite was not stored');
  const unsaved = page.waitForResponse((r) => r.url().endsWith('/api/set_favourite'));
  await heart().click();
  assert.equal((await unsaved).status(), 200);
  await page.reload();
  await awake();
  assert.equal(await heart().getAttribute('aria-pressed'), 'false');

  // A cell the island draws, further down, named as the server names its cells.
  await page.evaluate(() => window.scrollBy(0, 4000));
  await page.locator('.vt-cell[data-photo-id]').first().waitFor({ timeout: 30_000 });
  // One on screen: a click on a cell beyond it would scroll the page by more than a screen,
  // which on a library this tall is a proportional jump elsewhere.
  const drawnId = await page.evaluate(
    () =>
      [...document.querySelectorAll('.vt-cell[data-photo-id]')].find((cell) => {
        const box = cell.getBoundingClientRect();
        return box.top > 60 && box.bottom < innerHeight;
      })?.dataset.photoId,
  );
  const drawn = page.locator(`.vt-cell[data-photo-id="${drawnId}"]`);
  const name = await drawn.locator('a.cell-link').getAttribute('aria-label');
  assert.match(name, /^IMG_\d+\.JPG, \d{1,2} [A-Z][a-z]+ \d{4}$/);
  const drawnHeart = page.locator(`.vt-cell[data-photo-id="${drawnId}"] button.fav`);
  for (const pressed of ['true', 'false']) {
    const answered = page.waitForResponse((r) => r.url().endsWith('/api/set_favourite'));
    await drawnHeart.click();
    assert.equal(await drawnHeart.getAttribute('aria-pressed'), pressed);
    assert.equal((await answered).status(), 200);
  }
  assert.deepEqual(errors, []);
  await context.close();
});

test('waking the island changes no pixel of the first screen', async () => {
  for (const viewport of [{ width: 1280, height: 900 }, { width: 390, height: 844 }]) {
    const context = await signedIn(browser, { viewport });
    const page = await context.newPage();
    const errors = watchErrors(page);
    // The island's scripts wait until the server's page has been photographed (the Web
    // Vitals reporter draws nothing, and the page's load event waits for it).
    let release;
    const held = new Promise((resolve) => {
      release = resolve;
    });
    await page.route(/\/pkg\/(?!vitals\.).*\.(js|wasm)$/, async (route) => {
      await held;
      await route.continue();
    });
    await page.goto(baseUrl);
    const imagesLoaded = () =>
      page.waitForFunction(() =>
        [...document.images].every((img) => img.getBoundingClientRect().top > innerHeight || (img.complete && img.naturalWidth > 0)),
      );
    await imagesLoaded();
    const before = await page.screenshot();
    release();
    await page.locator('.vt[data-active]').waitFor({ timeout: 30_000 });
    await page.locator('html[data-live="open"]').waitFor({ timeout: 30_000 });
    await imagesLoaded();
    await page.waitForTimeout(300);
    const after = await page.screenshot();
    const name = `timeline-hydration-${viewport.width}`;
    if (!before.equals(after)) {
      writeFileSync(`${resultsDir}/${name}-before.png`, before);
      writeFileSync(`${resultsDir}/${name}-after.png`, after);
    }
    assert.ok(before.equals(after), `hydration changed pixels at ${viewport.width}px: see ${name}-*.png`);
    assert.deepEqual(errors, []);
    await context.close();
  }
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

test('a phone-sized screen keeps cells square and the month rail narrow', async () => {
  const context = await signedIn(browser, { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
  const page = await context.newPage();
  await page.goto(baseUrl);
  await page.locator('.vt[data-active]').waitFor({ timeout: 30_000 });
  const box = await page.locator('.vt [data-photo-id]').first().boundingBox();
  assert.ok(Math.abs(box.width - box.height) < 1);
  assert.ok(box.width >= 96, `cells are ${box.width}px`);
  const rail = await page.locator('.vt-rail').boundingBox();
  assert.ok(rail.width <= 48, `the rail is ${rail.width}px wide`);
  await page.screenshot({ path: `${resultsDir}/timeline-phone.png` });
  await context.close();
});
