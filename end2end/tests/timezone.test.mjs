// Times show in the viewer's time zone: the browser names it once in a cookie, and from the
// next page on the server renders instants in it. Until then (and without JavaScript) times
// are UTC and say so. When a photo was taken is the place's clock, in every zone alike.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { baseUrl, launch, newUser, postForm, uploadPhotos, watchErrors } from './browser.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** `5 December 2026, 03:35`, as the pages write an instant in `timeZone`. */
function moment(epochMs, timeZone) {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', {
      timeZone,
      day: 'numeric',
      month: 'long',
      year: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    })
      .formatToParts(new Date(epochMs))
      .map(({ type, value }) => [type, value]),
  );
  return `${parts.day} ${parts.month} ${parts.year}, ${parts.hour}:${parts.minute}`;
}

/** Every label the trash time may have, having been set between `from` and `to`. */
function momentsBetween(from, to, timeZone) {
  const labels = new Set();
  for (let at = from - 60_000; at <= to + 60_000; at += 30_000) labels.add(moment(at, timeZone));
  return [...labels];
}

test("a photo's trash time shows in the browser's zone once it has said which, and taken stays the place's clock", async () => {
  const storageState = await newUser(browser);
  const setup = await browser.newContext({ storageState });
  const helper = await setup.newPage();
  await helper.goto(baseUrl);
  const [id] = await uploadPhotos(helper, ['test1.jpg']);
  const from = Date.now();
  const { status } = await postForm(helper, '/api/set_trashed', `photo_id=${id}&trashed=true`);
  const to = Date.now();
  assert.equal(status, 200);
  await setup.close();

  // The session alone: signing in, the browser already named the machine's own zone.
  const session = { ...storageState, cookies: storageState.cookies.filter((cookie) => cookie.name !== 'tz') };
  const taken = {};
  for (const timezoneId of ['Asia/Kolkata', 'America/New_York']) {
    const context = await browser.newContext({ storageState: session, timezoneId });
    const page = await context.newPage();
    const errors = watchErrors(page);
    // The first page: the server has not been told the zone yet.
    await page.goto(`${baseUrl}/p/${id}`);
    const first = await page.locator('.in-trash').innerText();
    assert.match(first, /\sUTC\.$/, `before the browser said: ${first}`);
    assert.ok(momentsBetween(from, to, 'UTC').some((label) => first.includes(label)), first);
    const cookies = await context.cookies();
    // Chromium may name the zone by an older alias (Asia/Calcutta): whatever it says is sent.
    const named = await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone);
    assert.equal(cookies.find((cookie) => cookie.name === 'tz')?.value, named);

    await page.reload();
    const local = await page.locator('.in-trash').innerText();
    assert.doesNotMatch(local, /UTC/, local);
    const expected = momentsBetween(from, to, timezoneId);
    assert.ok(
      expected.some((label) => local === `In the trash since ${label}.`),
      `${local} is not one of ${expected.join(' | ')}`,
    );
    taken[timezoneId] = await page.locator('.facts dt:text-is("Taken") + dd').innerText();
    assert.deepEqual(errors, []);
    await context.close();
  }
  assert.equal(taken['Asia/Kolkata'], taken['America/New_York']);
  assert.doesNotMatch(taken['Asia/Kolkata'], /UTC$/);

  // Without JavaScript nothing names the zone, and a zone cookie that names none the server
  // knows is ignored: UTC, said so.
  const url = new URL(baseUrl);
  for (const value of [null, '../../etc/passwd', 'Mars/Olympus_Mons']) {
    const context = await browser.newContext({ storageState: session, javaScriptEnabled: false, timezoneId: 'Asia/Kolkata' });
    if (value) await context.addCookies([{ name: 'tz', value, domain: url.hostname, path: '/' }]);
    const page = await context.newPage();
    for (let visit = 0; visit < 2; visit += 1) {
      const response = await page.goto(`${baseUrl}/p/${id}`);
      assert.equal(response.status(), 200);
      const label = await page.locator('.in-trash').innerText();
      assert.match(label, /\sUTC\.$/, `${value}: ${label}`);
    }
    await context.close();
  }
});
