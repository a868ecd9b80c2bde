// The timeline at library scale (run.mjs seeds a million photos by default): virtualized
// grid, bounded DOM, a scroll height every browser can hold, the scrubber reaching the
// oldest photo, and no long task while scrolling.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { baseUrl, launch, resultsDir, signedIn, watchErrors } from './browser.mjs';

const FIREFOX_MAX_HEIGHT = 17_895_697;
let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** First photo id of a segment in the columnar encoding (zigzag varint after an 8-byte header). */
function firstId(bytes) {
  assert.equal(String.fromCharCode(...bytes.slice(0, 4)), 'FBS2');
  let value = 0n;
  let shift = 0n;
  for (let at = 8; ; at += 1) {
    value |= BigInt(bytes[at] & 0x7f) << shift;
    if ((bytes[at] & 0x80) === 0) break;
    shift += 7n;
  }
  return Number((value >> 1n) ^ -(value & 1n));
}

async function openTimeline(viewport = { width: 1280, height: 900 }) {
  const context = await signedIn(browser, { viewport });
  await context.addInitScript(() => {
    window.__longTasks = [];
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) window.__longTasks.push({ start: entry.startTime, duration: entry.duration });
    }).observe({ type: 'longtask', buffered: true });
  });
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(baseUrl);
  await page.locator('.vt[data-active]').waitFor({ timeout: 30_000 });
  await page.locator('.vt-cell[data-photo-id]').first().waitFor({ timeout: 30_000 });
  return { context, page, errors };
}

test('the virtual timeline keeps the scroll height under every browser limit', async () => {
  const { context, page, errors } = await openTimeline();
  const total = Number(await page.locator('.vt-spacer').getAttribute('data-total-height'));
  const scrollHeight = await page.evaluate(() => document.documentElement.scrollHeight);
  const expected = Number(process.env.E2E_PHOTOS ?? '1000000');
  if (expected >= 1_000_000) assert.ok(total > FIREFOX_MAX_HEIGHT, `virtual height ${total} is not past the limit`);
  assert.ok(scrollHeight < FIREFOX_MAX_HEIGHT / 2, `document is ${scrollHeight}px tall`);
  assert.equal(await page.locator('.sections').isVisible(), false, 'the static first screen is still shown');
  assert.deepEqual(errors, []);
  await context.close();
});

test('the scrubber reaches the oldest photo and the DOM stays small', async () => {
  const { context, page, errors } = await openTimeline();
  const months = page.locator('.vt-scrubber button');
  const oldest = months.last();
  const month = await oldest.getAttribute('data-month');
  const count = Number(await oldest.locator('.count').innerText());

  const oldestId = await page.evaluate(async ([m, c]) => {
    const response = await fetch(`/api/timeline/buckets/${m}?offset=${c - 1}&limit=1`);
    return Array.from(new Uint8Array(await response.arrayBuffer()));
  }, [month, count]).then(firstId);

  await oldest.click();
  await page.waitForFunction((m) => document.querySelector(`.vt-scrubber button[data-month="${m}"]`)?.getAttribute('aria-current') === 'true', month);
  await page.keyboard.press('End');
  const cell = page.locator(`.vt-cell[data-photo-id="${oldestId}"]`);
  await cell.waitFor({ timeout: 30_000 });
  const box = await cell.boundingBox();
  const viewport = page.viewportSize();
  assert.ok(box && box.y >= 0 && box.y + box.height <= viewport.height, `oldest photo not in view: ${JSON.stringify(box)}`);
  await page.screenshot({ path: `${resultsDir}/timeline-oldest.png` });

  const nodes = await page.evaluate(() => document.getElementsByTagName('*').length);
  const cells = await page.locator('.vt-cell').count();
  assert.ok(cells < 500, `${cells} cells in the DOM`);
  assert.ok(nodes < 6000, `${nodes} DOM nodes`);
  assert.deepEqual(errors, []);
  await context.close();
});

test('scrolling through the library causes no long task', async () => {
  const { context, page, errors } = await openTimeline();
  await page.waitForTimeout(500);
  const start = await page.evaluate(() => performance.now());
  await page.mouse.move(400, 400);
  for (let step = 0; step < 30; step += 1) {
    await page.mouse.wheel(0, 700);
    await page.waitForTimeout(30);
  }
  const months = await page.locator('.vt-scrubber button').count();
  for (const index of [Math.floor(months / 3), Math.floor(months / 2), months - 5, 3]) {
    await page.locator('.vt-scrubber button').nth(index).click();
    await page.waitForTimeout(80);
    for (let step = 0; step < 5; step += 1) {
      await page.mouse.wheel(0, 500);
      await page.waitForTimeout(30);
    }
  }
  await page.waitForTimeout(300);
  const longTasks = await page.evaluate((t0) => window.__longTasks.filter((task) => task.start >= t0), start);
  assert.deepEqual(longTasks.filter((task) => task.duration > 50), [], 'long tasks while scrolling');
  assert.ok((await page.locator('.vt-cell[data-photo-id]').count()) > 0, 'nothing drawn after scrolling');
  assert.deepEqual(errors, []);
  await context.close();
});
