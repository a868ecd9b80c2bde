// Each page loads only the island code it uses: the Web Vitals reporter everywhere; the first
// WASM chunk (hydration) and the lazy chunk of each island the page shows where it shows one;
// no WebAssembly at all where it shows none.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { baseUrl, launch, signedIn, watchErrors } from './browser.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/**
 * The islands whose chunks a page fetched, by name, whether the first chunk came, and whether
 * the Web Vitals reporter did.
 */
async function islandsLoaded(context, path) {
  const page = await context.newPage();
  const errors = watchErrors(page);
  const wasm = [];
  const scripts = [];
  page.on('request', (request) => {
    const name = new URL(request.url()).pathname.split('/').pop();
    if (name.endsWith('.wasm')) wasm.push(name);
    if (name.endsWith('.js')) scripts.push(name);
  });
  await page.goto(`${baseUrl}${path}`);
  await page.waitForLoadState('networkidle');
  // Islands hydrate when the browser is idle; give them that moment, then a quiet network.
  await page.waitForTimeout(1500);
  await page.waitForLoadState('networkidle');
  await page.close();
  const islands = wasm
    .map((name) => name.match(/^split_(.+?)_loader_/)?.[1])
    .filter(Boolean)
    .sort();
  return {
    first: wasm.some((name) => name.startsWith('flashbulb.')),
    hydration: scripts.some((name) => name.startsWith('flashbulb.')),
    vitals: scripts.some((name) => /^vitals\.[\w-]{22}\.js$/.test(name)),
    islands: [...new Set(islands)],
    errors,
  };
}

test('every page loads the chunks of its own islands and no others', async () => {
  const context = await signedIn(browser, { viewport: { width: 1280, height: 900 } });
  const probe = await context.newPage();
  await probe.goto(baseUrl);
  const photoId = await probe.locator('.vt [data-photo-id]').first().getAttribute('data-photo-id');
  const albumId = await probe.evaluate(async () => {
    const response = await fetch('/api/create_album', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: 'title=Chunks',
    });
    return String(await response.json());
  });
  await probe.close();

  const expected = {
    '/': ['live_updates', 'uploader', 'virtual_timeline'],
    [`/p/${photoId}`]: ['photo_keys'],
    '/albums': [],
    [`/albums/${albumId}`]: ['live_updates'],
    '/search': [],
    '/favourites': [],
    '/trash': [],
    '/ops': ['live_updates', 'ops_console'],
  };
  for (const [path, islands] of Object.entries(expected)) {
    const loaded = await islandsLoaded(context, path);
    const wakes = islands.length > 0;
    assert.equal(loaded.first, wakes, `${path}: the first WASM chunk loaded (${loaded.first})`);
    assert.equal(loaded.hydration, wakes, `${path}: the hydration script loaded (${loaded.hydration})`);
    assert.ok(loaded.vitals, `${path} did not load the Web Vitals reporter`);
    assert.deepEqual(loaded.islands, islands, `island chunks of ${path}`);
    assert.deepEqual(loaded.errors, [], `errors on ${path}`);
  }
  await context.close();

  // Signed out, the sign-in page has no island either.
  const stranger = await browser.newContext();
  const signin = await islandsLoaded(stranger, '/signin');
  assert.deepEqual(signin.islands, []);
  assert.ok(!signin.first && !signin.hydration && signin.vitals, '/signin loads only the reporter');
  await stranger.close();
});
