// Albums end to end: create one, add a photo from its page, share it, and let a visitor
// without an account see it and download it as a ZIP.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { baseUrl, launch, resultsDir, signedIn, watchErrors } from './browser.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test('an album is created, filled, shared, seen by a visitor and downloaded', async () => {
  const context = await signedIn(browser, { viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(`${baseUrl}/albums`);
  const title = `Harbour walks ${Date.now()}`;
  await page.getByLabel('New album').fill(title);
  await Promise.all([page.waitForURL(/\/albums\/\d+$/), page.getByRole('button', { name: 'Create' }).click()]);
  const albumUrl = page.url();
  assert.equal(await page.locator('h1').innerText(), title);
  assert.match(await page.locator('.notice').innerText(), /This album is empty/);

  // Add the newest photo from its own page.
  await page.goto(`${baseUrl}/p/1`);
  await page.getByLabel('Add to album').selectOption({ label: title });
  // Each form answers with a redirect back to its page: wait for the page it leads to.
  await page.getByRole('button', { name: 'Add', exact: true }).click();
  await page.locator('.photo-albums li a', { hasText: title }).waitFor();
  assert.equal(await page.locator('.photo-albums li a', { hasText: title }).count(), 1);

  await page.goto(albumUrl);
  assert.equal(await page.locator('.grid [data-photo-id="1"]').count(), 1);
  await page.getByRole('button', { name: 'Share with a link' }).click();
  await page.locator('a.share-link').waitFor();
  const shareLink = await page.locator('a.share-link').getAttribute('href');
  assert.match(shareLink, /^\/s\/[0-9a-f]{32}$/);
  // The whole address, as people pass it on, and a button that copies it.
  const field = page.getByLabel('Shared at');
  await page.waitForFunction(() => document.querySelector('.share-url')?.value.startsWith('http'));
  assert.equal(await field.inputValue(), `${baseUrl}${shareLink}`);
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: baseUrl });
  await page.getByRole('button', { name: 'Copy link' }).click();
  await page.getByRole('button', { name: 'Copied' }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), `${baseUrl}${shareLink}`);
  await page.screenshot({ path: `${resultsDir}/album.png` });
  await page.goto(`${baseUrl}/albums`);
  await page.screenshot({ path: `${resultsDir}/albums.png` });

  // A visitor: no cookies, no account; read-only grid and a download.
  const visitor = await browser.newContext({ acceptDownloads: true });
  const guest = await visitor.newPage();
  await guest.goto(`${baseUrl}${shareLink}`);
  assert.equal(await guest.locator('h1').innerText(), title);
  assert.equal(await guest.locator('.grid .cell').count(), 1);
  assert.equal(await guest.locator('.grid .fav').count(), 0, 'a visitor got the heart');
  await guest.screenshot({ path: `${resultsDir}/shared-album.png` });
  const [download] = await Promise.all([
    guest.waitForEvent('download'),
    guest.getByRole('link', { name: 'Download ZIP' }).click(),
  ]);
  const bytes = readFileSync(await download.path());
  assert.equal(bytes.subarray(0, 2).toString(), 'PK', 'the download is not a ZIP');
  assert.ok(download.suggestedFilename().endsWith('.zip'));
  await visitor.close();

  // Stop sharing: the link dies.
  await page.goto(albumUrl);
  await page.getByRole('button', { name: 'Stop sharing' }).click();
  await page.getByRole('button', { name: 'Share with a link' }).waitFor();
  const gone = await page.request.get(`${baseUrl}${shareLink}`);
  assert.equal(gone.status(), 404);
  assert.deepEqual(errors, []);
  await context.close();
});
