// The library's CSV export downloads whole in the browser, which always asks for compressed
// answers: the file has its header and a row per photo of the user.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { baseUrl, launch, newUser, uploadPhotos, watchErrors } from './browser.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test('the CSV export downloads whole through compression', async () => {
  const storageState = await newUser(browser);
  const context = await browser.newContext({ storageState, acceptDownloads: true });
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(baseUrl);
  const ids = await uploadPhotos(page, ['test1.jpg', 'test2.jpg']);

  await page.goto(`${baseUrl}/search`);
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: 'export the library as CSV' }).click(),
  ]);
  assert.equal(await download.failure(), null, 'the download failed');
  const text = readFileSync(await download.path(), 'utf8');
  const lines = text.trimEnd().split('\n');
  assert.match(lines[0], /^id,file_name,taken_at,/);
  assert.deepEqual(
    lines.slice(1).map((line) => Number(line.split(',')[0])).sort((a, b) => a - b),
    [...ids].sort((a, b) => a - b),
  );
  // Compressed, as the browser asked.
  const encoding = await page.evaluate(async () => (await fetch('/api/export/photos.csv')).headers.get('content-encoding'));
  assert.ok(['br', 'gzip', 'zstd'].includes(encoding), `not compressed: ${encoding}`);
  assert.deepEqual(errors, []);
  await context.close();
});
