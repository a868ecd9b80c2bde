// Web Vitals: every page view reports LCP, INP, CLS, FCP and TTFB in a beacon when it is
// hidden, tagged with its route template, navigation type and page-view id. The reporter
// measures with Google's `web-vitals` library; a second copy of it, loaded into the same page
// as the referee, checks that what reaches the server is what the library measured.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Agent, createServer, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { baseUrl, launch, signedIn } from './browser.mjs';

const referee = readFileSync(
  new URL('../node_modules/web-vitals/dist/web-vitals.iife.js', import.meta.url),
  'utf8',
);

// Runs in every document before the page's own scripts, in the same script as the referee's
// code, which declares \`webVitals\` for it.
const harness = `(() => {
  // The page counts as hidden when the test says so; both libraries read visibilityState
  // and listen for visibilitychange, as they do when a visitor switches tabs.
  const real = Object.getOwnPropertyDescriptor(Document.prototype, 'visibilityState').get;
  let forced = null;
  Object.defineProperty(document, 'visibilityState', {
    configurable: true,
    get() { return forced ?? real.call(this); },
  });
  window.__setVisibility = (state) => {
    forced = state;
    document.dispatchEvent(new Event('visibilitychange'));
  };
  // Our measuring has started once the page listens for pagehide (the referee does not).
  window.__pagehideListeners = 0;
  const add = EventTarget.prototype.addEventListener;
  EventTarget.prototype.addEventListener = function (type, ...rest) {
    if (this === window && type === 'pagehide') window.__pagehideListeners += 1;
    return add.call(this, type, ...rest);
  };
  // A page restored from the back/forward cache is a new page view for the referee too.
  addEventListener('pageshow', (event) => {
    if (event.persisted) {
      forced = null;
      window.__referee = {};
    }
  }, true);
  window.__referee = {};
  const keep = (metric) => {
    window.__referee[metric.name] = { value: metric.value, nav: metric.navigationType };
  };
  for (const on of ['onLCP', 'onCLS', 'onFCP', 'onTTFB', 'onINP']) {
    webVitals[on](keep, { reportAllChanges: true });
  }
})();`;

let browser;
let proxy;
before(async () => {
  browser = await launch();
  proxy = await startProxy(baseUrl);
});
after(async () => {
  await browser?.close();
  await proxy?.close();
});

/**
 * Stands between the browser and the server and keeps every beacon as the server receives
 * it. A beacon sent while a page unloads is not reported by the browser's tooling, and one
 * whose body is a Blob comes without its body there; here both arrive as sent.
 */
async function startProxy(target) {
  const upstream = new URL(target);
  const agent = new Agent({ keepAlive: true });
  const beacons = [];
  const waiters = [];
  const server = createServer((request, response) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      if (request.method === 'POST' && request.url === '/api/vitals') {
        beacons.push({ type: request.headers['content-type'], ...readJson(body.toString('utf8')) });
        for (const wake of waiters.splice(0)) wake();
      }
      const forward = httpRequest(
        {
          agent,
          host: upstream.hostname,
          port: upstream.port,
          method: request.method,
          path: request.url,
          headers: request.headers,
        },
        (answer) => {
          response.writeHead(answer.statusCode, answer.headers);
          answer.pipe(response);
        },
      );
      forward.on('error', () => response.destroy());
      forward.end(body);
    });
  });
  // Every socket either way, so that closing ends live sockets too, which the server's own
  // bookkeeping lets go of once they are upgraded.
  const sockets = new Set();
  const track = (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };
  server.on('connection', track);
  // The live socket goes through as bytes.
  server.on('upgrade', (request, socket, head) => {
    const link = connect(Number(upstream.port), upstream.hostname, () => {
      const lines = [`${request.method} ${request.url} HTTP/1.1`];
      for (let i = 0; i < request.rawHeaders.length; i += 2) {
        lines.push(`${request.rawHeaders[i]}: ${request.rawHeaders[i + 1]}`);
      }
      link.write(`${lines.join('\r\n')}\r\n\r\n`);
      link.write(head);
      socket.pipe(link).pipe(socket);
    });
    track(link);
    link.on('error', () => socket.destroy());
    socket.on('error', () => link.destroy());
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    beacons,
    /** The first beacon after the `seen` first ones that `accept`s. */
    async next(seen, accept = () => true, timeout = 10_000) {
      const deadline = Date.now() + timeout;
      for (;;) {
        const found = beacons.slice(seen).find(accept);
        if (found) return found;
        assert.ok(Date.now() < deadline, `no beacon within ${timeout} ms: ${JSON.stringify(beacons.slice(seen))}`);
        await new Promise((wake) => {
          waiters.push(wake);
          setTimeout(wake, 100);
        });
      }
    },
    close() {
      const closed = new Promise((ok) => server.close(ok));
      for (const socket of sockets) socket.destroy();
      agent.destroy();
      return closed;
    },
  };
}

function readJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return { unreadable: text };
  }
}

/** A fresh page with the referee in every document it shows. */
async function open(within = browser) {
  const context = await signedIn(within, { viewport: { width: 1280, height: 900 } });
  await context.addInitScript({ content: `${referee}\n${harness}` });
  const page = await context.newPage();
  // Console errors and uncaught exceptions, but for the beacon's answer: the ingest
  // endpoint is not asserted here, only what is sent.
  const errors = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.location().url?.endsWith('/api/vitals')) {
      errors.push(message.text());
    }
  });
  page.on('pageerror', (error) => errors.push(String(error)));
  return { context, page, errors };
}

/** Waits until the page has hydrated (our measuring runs) and the referee has its values. */
async function settled(page) {
  await page.waitForFunction(
    () => {
      const seen = window.__referee;
      return window.__pagehideListeners > 0 && seen.TTFB && seen.FCP && seen.LCP && seen.CLS;
    },
    null,
    { timeout: 30_000 },
  );
}

/** Hides the page and returns the beacon it sends and what the referee measured. */
async function hide(page, accept) {
  const seen = proxy.beacons.length;
  await page.evaluate(() => window.__setVisibility('hidden'));
  const beacon = await proxy.next(seen, accept);
  const measured = await page.evaluate(() => window.__referee);
  return { beacon, measured };
}

async function show(page) {
  await page.evaluate(() => window.__setVisibility(null));
}

/** Asserts that the beacon and the referee agree, and says by how much. */
function assertAgrees(t, { beacon, measured }, route, { interacted = false } = {}) {
  assert.equal(beacon.type, 'application/json');
  assert.equal(beacon.route, route);
  assert.match(beacon.page, /^[0-9a-f]{32}$/);
  assert.equal(beacon.nav, measured.LCP.nav, 'navigation type');
  const ours = Object.fromEntries(beacon.metrics.map(({ name, value }) => [name, value]));
  const names = beacon.metrics.map(({ name }) => name);
  assert.equal(new Set(names).size, names.length, `a metric twice: ${names}`);
  const report = [];
  for (const name of ['LCP', 'FCP', 'TTFB', 'CLS', 'INP']) {
    const theirs = measured[name]?.value;
    report.push(`${name} ${ours[name] ?? '-'} / ${theirs ?? '-'}`);
    if (name === 'INP' && !interacted) {
      assert.equal(ours.INP, theirs, 'INP without an interaction');
      continue;
    }
    assert.equal(typeof ours[name], 'number', `${name} is missing from ${JSON.stringify(beacon)}`);
    if (theirs === undefined) {
      // The referee reports INP only for interactions it saw, with the same threshold.
      assert.equal(name, 'INP', `the referee has no ${name}`);
      continue;
    }
    const tolerance = name === 'CLS' ? 0.01 : Math.max(0.1 * theirs, 1);
    assert.ok(
      Math.abs(ours[name] - theirs) <= tolerance,
      `${name}: ours ${ours[name]}, web-vitals ${theirs} (${route})`,
    );
  }
  t.diagnostic(`${route} ${beacon.nav}: ours / web-vitals: ${report.join(', ')}`);
}

test('the timeline reports its vitals, with INP after a favourite is set', async (t) => {
  const { context, page, errors } = await open();
  await page.goto(proxy.url);
  await settled(page);
  // A real interaction: the island's heart calls its server function and re-renders. Set
  // and cleared again, so the library is as it was.
  await page.locator('.vt[data-active]').waitFor({ timeout: 30_000 });
  const cell = page.locator('.vt [data-photo-id]').nth(5);
  const photoId = await cell.getAttribute('data-photo-id');
  const heart = `.vt [data-photo-id="${photoId}"] button.fav`;
  for (const pressed of ['true', 'false']) {
    const saved = page.waitForResponse((r) => r.url().endsWith('/api/set_favourite'));
    await page.locator(heart).click();
    assert.equal((await saved).status(), 200);
    await page.waitForFunction(
      ([selector, value]) => document.querySelector(selector)?.getAttribute('aria-pressed') === value,
      [heart, pressed],
    );
  }
  const first = await hide(page);
  assertAgrees(t, first, '/', { interacted: true });
  assert.equal(first.beacon.nav, 'navigate');

  // Shown and hidden again: the same page view sends again, with what it knows by then.
  await show(page);
  const again = await hide(page, (beacon) => beacon.page === first.beacon.page);
  assertAgrees(t, again, '/', { interacted: true });
  const sent = proxy.beacons.filter((beacon) => beacon.page === first.beacon.page);
  assert.equal(sent.length, 2, 'one beacon per hide');
  assert.deepEqual(errors, []);
  await context.close();
});

test('a photo page reports its vitals and a reload is a new page view', async (t) => {
  const { context, page, errors } = await open();
  await page.goto(`${proxy.url}/p/3`);
  await settled(page);
  // A real click on the favourite button; the form is kept from posting so the page stays.
  await page.evaluate(() =>
    document.querySelector('.fav-button').form.addEventListener('submit', (event) => event.preventDefault()),
  );
  await page.locator('.fav-button').click();
  await page.waitForFunction(() => window.__referee.INP, null, { timeout: 10_000 });
  const first = await hide(page);
  assertAgrees(t, first, '/p/:id', { interacted: true });

  // Shown again and reloaded: the unloading page reports once more, the new one anew.
  await show(page);
  await page.reload();
  await settled(page);
  const reloaded = await hide(page, (beacon) => beacon.page !== first.beacon.page);
  assertAgrees(t, reloaded, '/p/:id');
  assert.equal(reloaded.beacon.nav, 'reload');
  assert.deepEqual(errors, []);
  await context.close();
});

/**
 * Leaves /albums by a link and comes back: the page reports on its way out (a real pagehide,
 * after a layout shift), and again as a new page view after coming back.
 */
async function leaveAndComeBack(t, within, nav) {
  const { context, page, errors } = await open(within);
  await page.goto(`${proxy.url}/albums`);
  await settled(page);
  // A shift no input caused: everything below moves down by a banner's height.
  await page.evaluate(() => {
    const banner = document.createElement('div');
    banner.style.height = '240px';
    document.body.prepend(banner);
  });
  await page.waitForFunction(() => window.__referee.CLS.value > 0);
  // The page's one interaction, a real click, reported by the browser before the page goes:
  // the entry of a click that navigates away is dropped when the page leaves before its next
  // paint, so that click cannot be the interaction measured.
  await page.locator('h1').click();
  await page.waitForFunction(() => window.__referee.INP, null, { timeout: 10_000 });
  const measured = await page.evaluate(() => window.__referee);

  // Leaving for real, with no further interaction: the browser hides the page and fires
  // pagehide on its way out.
  const seen = proxy.beacons.length;
  await page.evaluate(() => { location.href = '/'; });
  await page.waitForURL(`${proxy.url}/`);
  const left = await proxy.next(seen, (beacon) => beacon.route === '/albums');
  assertAgrees(t, { beacon: left, measured }, '/albums', { interacted: true });
  assert.ok(left.metrics.find(({ name }) => name === 'CLS').value > 0, 'the shift is not counted');

  // A page restored from the back/forward cache fires no load event.
  await page.goBack({ waitUntil: 'commit' });
  await page.waitForURL(`${proxy.url}/albums`, { waitUntil: 'commit' });
  await settled(page);
  const back = await hide(page, (beacon) => beacon.route === '/albums' && beacon.page !== left.page);
  assert.equal(back.beacon.nav, nav);
  assertAgrees(t, back, '/albums');
  assert.deepEqual(errors, []);
  await context.close();
}

test('the albums page reports when the visitor leaves it and again when they come back', async (t) => {
  // The browser keeps no page in its back/forward cache here: coming back loads it anew.
  await leaveAndComeBack(t, browser, 'back-forward');
});

test('a page restored from the back/forward cache is a new page view', async (t) => {
  // The same browser with its back/forward cache, which the test driver turns off by default.
  const cached = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    ignoreDefaultArgs: ['--disable-back-forward-cache'],
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    await leaveAndComeBack(t, cached, 'back-forward-cache');
  } finally {
    await cached.close();
  }
});
