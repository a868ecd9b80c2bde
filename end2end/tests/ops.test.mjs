// The operations console in a browser: server-rendered figures, Web Vitals per route from
// real beacons, and a new reading arriving over the live socket without a reload.
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

/** A beacon as the browser sends it, posted through the real endpoint. */
async function sendBeacon(request, route, metrics) {
  const page = Array.from({ length: 32 }, () => Math.floor(Math.random() * 16).toString(16)).join('');
  const response = await request.post(`${baseUrl}/api/vitals`, {
    // Browsers name the page's origin on every beacon; a write without one is refused.
    headers: { 'content-type': 'text/plain;charset=UTF-8', origin: baseUrl },
    data: JSON.stringify({ page, route, nav: 'navigate', metrics }),
  });
  assert.equal(response.status(), 204, await response.text());
}

test('the console shows vitals per route and updates itself over the live socket', async () => {
  const context = await signedIn(browser, { viewport: { width: 1280, height: 1000 } });
  const page = await context.newPage();
  const errors = watchErrors(page);

  // Page views of a few routes, as browsers report them: mostly fast, some slow.
  for (let i = 0; i < 12; i++) {
    await sendBeacon(context.request, '/', [
      { name: 'LCP', value: 900 + i * 60 },
      { name: 'FCP', value: 400 + i * 20 },
      { name: 'TTFB', value: 40 + i },
      { name: 'CLS', value: i % 4 === 0 ? 0.02 : 0 },
      { name: 'INP', value: 48 + i * 4 },
    ]);
    await sendBeacon(context.request, '/p/:id', [
      { name: 'LCP', value: 1900 + i * 150 },
      { name: 'TTFB', value: 60 + i * 3 },
      { name: 'CLS', value: 0.01 },
    ]);
  }
  // A slow page, reported often enough that the other tests' page views cannot move its p75.
  for (let i = 0; i < 40; i++) {
    await sendBeacon(context.request, '/trash', [{ name: 'LCP', value: 4600 }, { name: 'INP', value: 320 }]);
  }

  const response = await page.goto(`${baseUrl}/ops`);
  assert.equal(response.status(), 200);
  await page.locator('html[data-live="open"]').waitFor({ timeout: 30_000 });

  // Server-rendered figures, vitals included once the sampler has read them.
  await page.locator('.ops-tile').first().waitFor();
  assert.ok((await page.locator('.ops-tile').count()) >= 8);
  const lcpRow = page.locator('tr[data-route="/"][data-metric="LCP"]');
  await lcpRow.waitFor({ timeout: 15_000 });
  assert.match(await lcpRow.innerText(), /ms|s/);
  await page.locator('tr[data-route="/trash"][data-metric="LCP"] .band-poor').waitFor({ timeout: 15_000 });
  assert.equal(await page.locator('tr[data-route="/trash"][data-metric="INP"] .band-needs-improvement').count(), 1);
  assert.ok((await page.locator('tr[data-alert]').count()) >= 4);

  // A newer reading replaces the figures in place: the page is not reloaded.
  await page.evaluate(() => {
    window.notReloaded = true;
  });
  const firstReading = await page.locator('[data-ops-at]').getAttribute('data-ops-at');
  await page.waitForFunction(
    (before) => document.querySelector('[data-ops-at]')?.getAttribute('data-ops-at') !== before,
    firstReading,
    { timeout: 20_000 },
  );
  assert.equal(await page.evaluate(() => window.notReloaded), true);

  await page.screenshot({ path: `${resultsDir}/ops.png`, fullPage: true });
  const diagnostics = await page.goto(`${baseUrl}/ops/diagnostics`);
  assert.equal(diagnostics.status(), 200);
  await page.locator('text=Slowest statements').waitFor();
  await page.screenshot({ path: `${resultsDir}/diagnostics.png`, fullPage: true });
  assert.deepEqual(errors, []);
  await context.close();
});
