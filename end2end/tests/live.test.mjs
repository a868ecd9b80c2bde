// Live updates end to end: two tabs of the same library in separate browser contexts; a photo
// uploaded in one appears in the other's timeline, with its count, without a reload.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { baseUrl, launch, postForm, resultsDir, signedIn, watchErrors } from './browser.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** Opens the timeline in a fresh context and waits for its live socket. */
async function openTimeline() {
  const context = await signedIn(browser, { viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(baseUrl);
  await page.locator('html[data-live="open"]').waitFor({ timeout: 30_000 });
  return { context, page, errors };
}

test('a photo uploaded in one tab appears in another without a reload', async () => {
  const uploader = await openTimeline();
  const watcher = await openTimeline();
  // Survives only as long as the page is not reloaded.
  await watcher.page.evaluate(() => {
    window.notReloaded = true;
  });
  const countBefore = await watcher.page.locator('[data-live-count="photos"]').innerText();
  const totalBefore = Number(await watcher.page.locator('.summary').getAttribute('data-total'));

  // A photo no library has: random pixels drawn on a canvas, as a JPEG without EXIF (so it is
  // dated now and lands at the top of the timeline).
  await uploader.page.locator('.uploader').waitFor();
  await uploader.page.waitForFunction(() => document.querySelector('.uploader')?.closest('leptos-island') !== null);
  await uploader.page.waitForTimeout(500);
  const transfer = await uploader.page.evaluateHandle(async () => {
    const canvas = document.createElement('canvas');
    canvas.width = 640;
    canvas.height = 480;
    const context = canvas.getContext('2d');
    for (let i = 0; i < 40; i++) {
      context.fillStyle = `hsl(${Math.random() * 360}, 70%, 50%)`;
      context.fillRect(Math.random() * 640, Math.random() * 480, 120, 90);
    }
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.9));
    const transfer = new DataTransfer();
    transfer.items.add(new File([blob], 'live-canvas.jpg', { type: 'image/jpeg' }));
    return transfer;
  });
  const answered = uploader.page.waitForResponse((response) => response.url().endsWith('/api/upload'));
  await uploader.page.dispatchEvent('body', 'drop', { dataTransfer: transfer });
  const answer = await (await answered).json();
  const id = answer.files[0].photo_id;
  assert.ok(id > 0, JSON.stringify(answer));

  // The other tab: the new photo at the top of its timeline with its thumbnail, the count up
  // by one, and no reload.
  const cell = watcher.page.locator(`.vt [data-photo-id="${id}"]`);
  await cell.waitFor({ timeout: 60_000 });
  const thumbnail = cell.locator('img.thumb');
  await thumbnail.waitFor();
  await watcher.page.waitForFunction(
    (before) => document.querySelector('[data-live-count="photos"]')?.textContent !== before,
    countBefore,
  );
  const countAfter = await watcher.page.locator('[data-live-count="photos"]').innerText();
  assert.equal(Number(countAfter.replace(/\D/g, '')), totalBefore + 1, countAfter);
  assert.equal(await watcher.page.evaluate(() => window.notReloaded), true, 'the watching tab reloaded');
  assert.equal(await watcher.page.locator('.vt [data-photo-id]').first().getAttribute('data-photo-id'), String(id));
  await watcher.page.screenshot({ path: `${resultsDir}/live-watcher.png` });

  // The uploading tab shows it too, also without a reload, and its list says "added".
  await uploader.page.locator('.upload-list li[data-state="added"]').waitFor({ timeout: 30_000 });
  await uploader.page.locator(`.vt [data-photo-id="${id}"]`).waitFor();

  assert.deepEqual(watcher.errors, []);
  assert.deepEqual(uploader.errors, []);
  await watcher.context.close();
  await uploader.context.close();
});

test('photos arriving keep an older month painted and in place, to the pixel', async () => {
  const watcher = await openTimeline();
  const { page } = watcher;
  await page.locator('.vt[data-active]').waitFor({ timeout: 30_000 });
  // Two years down the rail, then a little further by wheel: an older month, mid-screen.
  const rail = page.locator('.vt-track');
  await rail.focus();
  await page.keyboard.press('PageDown');
  await page.keyboard.press('PageDown');
  await rail.evaluate((element) => element.blur());
  await page.mouse.move(400, 500);
  await page.mouse.wheel(0, 333);
  await page.waitForFunction(() => document.querySelectorAll('.vt-cell[data-photo-id]').length > 20 && !document.querySelector('.vt .sections'));
  await page.waitForTimeout(600);
  const totalHeight = await page.locator('.vt').getAttribute('data-total-height');
  const countBefore = Number((await page.locator('[data-live-count="photos"]').innerText()).replace(/\D/g, ''));

  // Every frame from now on: each cell seen on screen must stay painted, with the same photo,
  // at the same place.
  await page.evaluate(() => {
    const visible = () =>
      [...document.querySelectorAll('.vt-cell')].filter((cell) => {
        const box = cell.getBoundingClientRect();
        return box.bottom > 52 && box.top < innerHeight;
      });
    window.__shown = visible().map((cell) => ({ id: cell.dataset.photoId, top: cell.getBoundingClientRect().top }));
    window.__faults = [];
    window.__frames = 0;
    const check = () => {
      window.__frames += 1;
      for (const { id, top } of window.__shown) {
        const cell = id && document.querySelector(`.vt-cell[data-photo-id="${id}"]`);
        if (!id) window.__faults.push('a visible cell had no photo');
        else if (!cell) window.__faults.push(`photo ${id} left the screen`);
        else if (Math.abs(cell.getBoundingClientRect().top - top) >= 1) window.__faults.push(`photo ${id} moved ${cell.getBoundingClientRect().top - top}px`);
      }
      if (document.querySelector('.vt-loading') && visible().some((cell) => cell.classList.contains('vt-loading'))) window.__faults.push('a visible cell turned grey');
      if (!window.__stop) requestAnimationFrame(check);
    };
    requestAnimationFrame(check);
  });
  assert.ok((await page.evaluate(() => window.__shown.length)) > 20, 'too few cells on screen');

  // Eight new photos, uploaded from another tab: taken now, so they land in the newest month.
  const other = await openTimeline();
  const ids = await other.page.evaluate(async () => {
    const ids = [];
    for (let n = 0; n < 8; n += 1) {
      const canvas = document.createElement('canvas');
      canvas.width = 320;
      canvas.height = 240;
      const context = canvas.getContext('2d');
      for (let i = 0; i < 20; i++) {
        context.fillStyle = `hsl(${Math.random() * 360}, 70%, 50%)`;
        context.fillRect(Math.random() * 320, Math.random() * 240, 80, 60);
      }
      const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.9));
      const form = new FormData();
      form.append('file', new File([blob], `arrival-${n}.jpg`, { type: 'image/jpeg' }));
      const answer = await (await fetch('/api/upload', { method: 'POST', body: form })).json();
      ids.push(answer.files[0].photo_id);
    }
    return ids;
  });
  assert.equal(ids.filter((id) => id > 0).length, 8, JSON.stringify(ids));

  // The count and the layout change live; then a few more frames are watched.
  // Other tests of the run may upload at the same time: at least these eight.
  await page.waitForFunction((total) => Number(document.querySelector('[data-live-count="photos"]')?.textContent.replace(/\D/g, '')) >= total, countBefore + 8, { timeout: 60_000 });
  await page.waitForFunction((height) => document.querySelector('.vt')?.dataset.totalHeight !== height, totalHeight, { timeout: 30_000 });
  await page.waitForTimeout(1500);
  const { faults, frames } = await page.evaluate(() => {
    window.__stop = true;
    return { faults: window.__faults, frames: window.__frames };
  });
  assert.ok(frames > 30, `only ${frames} frames watched`);
  assert.deepEqual([...new Set(faults)], [], 'what was on screen changed');
  await page.screenshot({ path: `${resultsDir}/live-arrivals-older-month.png` });
  // The eight go to the trash again, so later tests meet the timeline they expect on top.
  for (const id of ids) {
    const { status } = await postForm(other.page, '/api/set_trashed', `photo_id=${id}&trashed=true`);
    assert.equal(status, 200);
  }
  assert.deepEqual(watcher.errors, []);
  assert.deepEqual(other.errors, []);
  await other.context.close();
  await watcher.context.close();
});

test('an album page says when the album changed in another tab', async () => {
  const editor = await openTimeline();
  const photoId = await editor.page.locator('.vt [data-photo-id]').first().getAttribute('data-photo-id');
  const albumId = await editor.page.evaluate(async () => {
    const response = await fetch('/api/create_album', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: 'title=Live%20album',
    });
    return String(await response.json());
  });
  assert.match(albumId, /^\d+$/);

  const context = await signedIn(browser, { viewport: { width: 1280, height: 900 } });
  const watcher = await context.newPage();
  const errors = watchErrors(watcher);
  await watcher.goto(`${baseUrl}/albums/${albumId}`);
  await watcher.locator('html[data-live="open"]').waitFor({ timeout: 30_000 });
  assert.equal(await watcher.locator('.live-notice').count(), 0);

  const status = await editor.page.evaluate(async ({ albumId, photoId }) => {
    const response = await fetch('/api/set_in_album', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: `album_id=${albumId}&photo_id=${photoId}&member=true`,
    });
    return response.status;
  }, { albumId, photoId });
  assert.equal(status, 200);

  const notice = watcher.locator('.live-notice');
  await notice.waitFor({ timeout: 30_000 });
  await watcher.screenshot({ path: `${resultsDir}/live-album-notice.png` });
  await Promise.all([watcher.waitForEvent('load'), notice.locator('a').click()]);
  assert.equal(await watcher.locator('.summary').getAttribute('data-total'), '1');
  assert.deepEqual(errors, []);
  assert.deepEqual(editor.errors, []);
  await context.close();
  await editor.context.close();
});
