// Destructive actions ask first and can be undone: "Empty trash" and "Delete album" do nothing
// until confirmed, with and without JavaScript, and photos emptied from the trash come back
// from "Recently emptied". Each run has a user of its own, so no other test's trash is touched.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { baseUrl, launch, newUser, postForm, resultsDir, signedIn, uploadPhotos, watchErrors } from './browser.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

async function total(page, path) {
  await page.goto(`${baseUrl}${path}`);
  return Number(await page.locator('.summary').getAttribute('data-total'));
}

for (const javaScriptEnabled of [false, true]) {
  const mode = javaScriptEnabled ? 'with JavaScript' : 'without JavaScript';

  test(`emptying the trash asks first, and emptied photos come back from "Recently emptied", ${mode}`, async () => {
    const storageState = await newUser(browser);
    const setup = await browser.newContext({ storageState });
    const helper = await setup.newPage();
    await helper.goto(baseUrl);
    const ids = await uploadPhotos(helper, ['test1.jpg', 'test2.jpg', 'test3.jpg']);
    for (const id of ids) {
      assert.equal((await postForm(helper, '/api/set_trashed', `photo_id=${id}&trashed=true`)).status, 200);
    }
    await setup.close();

    const context = await browser.newContext({ storageState, javaScriptEnabled, viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const errors = javaScriptEnabled ? watchErrors(page) : [];
    assert.equal(await total(page, '/trash'), ids.length);
    // The trash shows what is in it: every cell its thumbnail.
    const thumbnails = page.locator('.trash .cell img.thumb');
    assert.equal(await thumbnails.count(), ids.length);
    for (const thumbnail of await thumbnails.all()) {
      await thumbnail.scrollIntoViewIfNeeded();
      await page.waitForFunction((img) => img.complete, await thumbnail.elementHandle());
      assert.ok(await thumbnail.evaluate((img) => img.naturalWidth > 0), 'a thumbnail did not load');
    }
    if (!javaScriptEnabled) await page.screenshot({ path: `${resultsDir}/trash-thumbnails.png` });

    // The first click only asks; cancelling leaves everything as it was.
    await Promise.all([page.waitForURL(/confirm=empty/), page.getByRole('link', { name: 'Empty trash…' }).click()]);
    const dialog = page.getByRole('alertdialog', { name: 'Empty the trash?' });
    assert.match(await dialog.innerText(), /3 photos will leave the trash and be deleted for good after 30 days/);
    if (!javaScriptEnabled) await page.screenshot({ path: `${resultsDir}/trash-confirm.png` });
    await Promise.all([page.waitForURL(`${baseUrl}/trash`), dialog.getByRole('link', { name: 'Cancel' }).click()]);
    assert.equal(await total(page, '/trash'), ids.length);

    await Promise.all([page.waitForURL(/confirm=empty/), page.getByRole('link', { name: 'Empty trash…' }).click()]);
    await Promise.all([
      page.waitForURL(`${baseUrl}/trash`),
      page.getByRole('alertdialog').getByRole('button', { name: 'Empty trash' }).click(),
    ]);
    await page.getByText('The trash is empty').waitFor();
    assert.equal(await total(page, '/trash'), 0);

    // Emptied, not gone: each can be restored until the grace period ends.
    await Promise.all([page.waitForURL(/list=emptied/), page.getByRole('link', { name: /Recently emptied/ }).click()]);
    assert.equal(Number(await page.locator('.summary').getAttribute('data-total')), ids.length);
    const restored = page.locator(`.grid [data-photo-id="${ids[0]}"]`);
    await Promise.all([page.waitForNavigation(), restored.getByRole('button', { name: 'Restore' }).click()]);
    assert.equal(await total(page, '/trash?list=emptied'), ids.length - 1);
    assert.equal(await total(page, '/'), 1, 'the restored photo is back in the timeline');
    assert.equal(await page.locator(`.grid [data-photo-id="${ids[0]}"], .vt [data-photo-id="${ids[0]}"]`).count(), 1);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test(`deleting an album asks first, ${mode}`, async () => {
    const owner = await signedIn(browser);
    const helper = await owner.newPage();
    await helper.goto(`${baseUrl}/albums`);
    const album = await postForm(helper, '/api/create_album', `title=Keep%20or%20not%20${javaScriptEnabled}`);
    assert.equal(album.status, 200, album.body);
    const albumId = JSON.parse(album.body);
    await owner.close();

    const context = await signedIn(browser, { javaScriptEnabled, viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const errors = javaScriptEnabled ? watchErrors(page) : [];
    await page.goto(`${baseUrl}/albums/${albumId}`);
    await Promise.all([page.waitForURL(/confirm=delete/), page.getByRole('link', { name: 'Delete album…' }).click()]);
    const dialog = page.getByRole('alertdialog');
    assert.match(await dialog.innerText(), /Delete the album “Keep or not/);
    if (!javaScriptEnabled) await page.screenshot({ path: `${resultsDir}/album-delete-confirm.png` });
    await Promise.all([page.waitForURL(`${baseUrl}/albums/${albumId}`), dialog.getByRole('link', { name: 'Cancel' }).click()]);
    assert.equal((await page.goto(`${baseUrl}/albums/${albumId}`)).status(), 200, 'cancelling deleted the album');

    await Promise.all([page.waitForURL(/confirm=delete/), page.getByRole('link', { name: 'Delete album…' }).click()]);
    await Promise.all([
      page.waitForURL(`${baseUrl}/albums`),
      page.getByRole('alertdialog').getByRole('button', { name: 'Delete album' }).click(),
    ]);
    assert.deepEqual(errors, []);
    assert.equal((await page.goto(`${baseUrl}/albums/${albumId}`)).status(), 404);
    await context.close();
  });
}
