// Search in the browser: part of a file name finds exactly its photos; a camera narrows them.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { baseUrl, launch, resultsDir, signedIn } from './browser.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test('a file-name fragment finds its photos and a camera narrows them', async () => {
  const context = await signedIn(browser, { viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${baseUrl}/search`);
  assert.ok((await page.locator('select[name="camera"] option').count()) > 1, 'no cameras offered');
  // Seeded names are IMG_0000001.JPG onwards: this fragment is in exactly ten of them.
  await page.getByLabel('File name').fill('IMG_000001');
  await Promise.all([page.waitForURL(/q=IMG_000001/), page.getByRole('button', { name: 'Search' }).click()]);
  assert.equal(await page.locator('.results-summary').getAttribute('data-total'), '10');
  assert.equal(await page.locator('.grid .cell').count(), 10);
  for (const label of await page.locator('.grid .cell-link').evaluateAll((links) => links.map((link) => link.getAttribute('aria-label')))) {
    assert.match(label, /^IMG_000001\d\.JPG, \d+ \w+ \d{4}$/);
  }
  await page.screenshot({ path: `${resultsDir}/search.png` });

  const camera = await page.locator('select[name="camera"] option').nth(1).getAttribute('value');
  await page.locator('select[name="camera"]').selectOption(camera);
  await Promise.all([page.waitForURL(/camera=/), page.getByRole('button', { name: 'Search' }).click()]);
  const narrowed = Number(await page.locator('.results-summary').getAttribute('data-total'));
  assert.ok(narrowed < 10, `a camera did not narrow the results: ${narrowed}`);

  await page.goto(`${baseUrl}/search?q=ab`);
  assert.match(await page.locator('[role="alert"]').innerText(), /at least 3 characters/);
  await context.close();
});
