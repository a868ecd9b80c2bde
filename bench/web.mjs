// What a browser pays for each page: the JS and WASM it downloads (raw and brotli 11), split
// into the first load and the lazy chunks the page's islands fetch, then Lighthouse's mobile
// preset, several runs per page, and the INP of a few real interactions, all in Debian's
// Chromium. Writes one JSON file.
//   node bench/web.mjs BASE_URL OUT.json PAGE...      e.g. / /p/17 /albums /ops
//   LIGHTHOUSE_RUNS   runs per page (default 5; the median is reported)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants } from 'node:zlib';
import { chromium } from 'playwright-core';
import { chromiumFlags, chromiumPath, fastScroll } from '../end2end/tests/browser.mjs';

const here = dirname(fileURLToPath(import.meta.url));

const [baseUrl, out, ...pages] = process.argv.slice(2);
if (!baseUrl || !out || pages.length === 0) {
  console.error('usage: node bench/web.mjs BASE_URL OUT.json PAGE...');
  process.exit(2);
}
const runs = Number(process.env.LIGHTHOUSE_RUNS ?? 5);
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`LIGHTHOUSE_RUNS must be a whole number of at least 1, not ${process.env.LIGHTHOUSE_RUNS}`);
  process.exit(2);
}

const brotliSize = (bytes) =>
  brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;

/**
 * The Web Vitals reporter arrives with every page; the hydration script, the main WASM and the
 * split loader with every page that shows an island.
 */
const isFirstLoad = (name) => /^(vitals\..*\.js|flashbulb.*\.(js|wasm)|__wasm_split.*\.js)$/.test(name);

/** A page whose script fails (a hydration error, say) would measure something else: stop. */
function failOnErrors(page, path) {
  page.on('pageerror', (error) => {
    console.error(`${path}: the page failed: ${error}`);
    process.exit(1);
  });
}

/** The library owner's session (scripts/bench signs in), so pages render as they do for them. */
const session = process.env.BENCH_SESSION ?? '';

async function signedIn(browser, options = {}) {
  const context = await browser.newContext(options);
  await context.addCookies([{ name: 'flashbulb_session', value: session, url: baseUrl }]);
  return context;
}

/** Pages measured as a visitor sees them: the sign-in form, and share links. */
const asVisitor = (path) => path === '/signin' || path.startsWith('/s/');

async function pageWeight(browser, path) {
  const context = asVisitor(path) ? await browser.newContext() : await signedIn(browser);
  const page = await context.newPage();
  failOnErrors(page, path);
  const responses = [];
  page.on('response', (response) => {
    const name = new URL(response.url()).pathname.split('/').pop();
    if (/\.(js|wasm)$/.test(name)) responses.push({ name, response });
  });
  // Network idle comes after hydration and after the lazy islands have fetched their chunks.
  await page.goto(baseUrl + path, { waitUntil: 'networkidle', timeout: 60_000 });
  const files = [];
  for (const { name, response } of responses) {
    if (files.some((file) => file.name === name)) continue;
    const body = await response.body();
    files.push({ name, raw: body.length, brotli: brotliSize(body), lazy: !isFirstLoad(name) });
  }
  await context.close();
  const sum = (list, key) => list.reduce((total, file) => total + file[key], 0);
  const first = files.filter((file) => !file.lazy);
  const lazy = files.filter((file) => file.lazy);
  return {
    files,
    first_load_raw: sum(first, 'raw'),
    first_load_brotli: sum(first, 'brotli'),
    lazy_raw: sum(lazy, 'raw'),
    lazy_brotli: sum(lazy, 'brotli'),
  };
}

/** Every interaction's duration as the Event Timing API reports it, from the page's start. */
const OBSERVE_INTERACTIONS = () => {
  window.__interactions = {};
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (!entry.interactionId) continue;
      const seen = window.__interactions[entry.interactionId] ?? 0;
      window.__interactions[entry.interactionId] = Math.max(seen, entry.duration);
    }
  }).observe({ type: 'event', durationThreshold: 16, buffered: true });
};

/**
 * INP of real interactions, with the page's own islands doing the work: the longest one, as
 * INP is for fewer than 50. Durations under 16 ms are not reported by browsers: none means
 * every interaction took less.
 */
async function interactionLatency(browser) {
  // The timeline's interactions run with the CPU four times slower, as Lighthouse's mobile
  // preset does: their budget is 100 ms there.
  const scenarios = {
    '/': {
      what: 'favourite and unfavourite a photo in the timeline, 4× CPU',
      path: '/',
      throttle: 4,
      async run(page) {
        await page.locator('.vt[data-active]').waitFor({ timeout: 30_000 });
        const heart = page.locator('.vt [data-photo-id] button.fav').first();
        for (let click = 0; click < 2; click += 1) {
          const saved = page.waitForResponse((r) => r.url().endsWith('/api/set_favourite'));
          await heart.click();
          await saved;
        }
      },
    },
    '/ (month rail)': {
      what: 'jump a year down the month rail and back, 4× CPU',
      path: '/',
      throttle: 4,
      async run(page) {
        await page.locator('.vt[data-active]').waitFor({ timeout: 30_000 });
        await page.locator('.vt-track').focus();
        for (const key of ['PageDown', 'PageDown', 'Home']) {
          await page.keyboard.press(key);
          await page.waitForTimeout(400);
        }
      },
    },
    '/ (open a photo)': {
      what: 'click a photo (the answer to the click, not the next page), 4× CPU',
      path: '/',
      throttle: 4,
      async run(page) {
        await page.locator('.vt[data-active]').waitFor({ timeout: 30_000 });
        // The photo page itself is not fetched: the click's own cost is what is measured.
        await page.route(/\/p\/\d+$/, (route) => route.abort());
        await page.locator('.vt [data-photo-id] a.cell-link').nth(3).click();
      },
    },
    '/search': {
      what: 'type a file name into the search field',
      path: '/search',
      throttle: 1,
      async run(page) {
        const field = page.locator('input[name="q"]');
        await field.waitFor({ timeout: 30_000 });
        await field.click();
        await field.pressSequentially('IMG_10', { delay: 50 });
      },
    },
  };
  const results = {};
  for (const [name, scenario] of Object.entries(scenarios)) {
    const context = await signedIn(browser, { viewport: { width: 1280, height: 900 } });
    await context.addInitScript(OBSERVE_INTERACTIONS);
    const page = await context.newPage();
    failOnErrors(page, name);
    if (scenario.throttle > 1) {
      const cdp = await context.newCDPSession(page);
      await cdp.send('Emulation.setCPUThrottlingRate', { rate: scenario.throttle });
    }
    await page.goto(baseUrl + scenario.path, { waitUntil: 'networkidle', timeout: 60_000 });
    await scenario.run(page);
    // Entries arrive after the next paint.
    await page.waitForTimeout(500);
    const durations = Object.values(await page.evaluate(() => window.__interactions));
    results[name] = {
      what: scenario.what,
      throttle: scenario.throttle,
      interactions_over_16ms: durations.length,
      inp_ms: durations.length ? Math.max(...durations) : null,
    };
    await context.close();
  }
  return results;
}

/** Long tasks of the page from its start, recorded before any script of its own runs. */
const OBSERVE_LONG_TASKS = () => {
  window.__longTasks = [];
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) window.__longTasks.push({ start: entry.startTime, duration: entry.duration });
  }).observe({ type: 'longtask', buffered: true });
};

/**
 * The timeline in motion: a fast scroll unthrottled (frames, placeholders, DOM), then waking
 * and a fast scroll with the CPU four times slower (the longest tasks).
 */
async function timelineMotion(browser) {
  const open = async (throttle) => {
    const context = await signedIn(browser, { viewport: { width: 1280, height: 900 } });
    await context.addInitScript(OBSERVE_LONG_TASKS);
    const page = await context.newPage();
    failOnErrors(page, '/');
    if (throttle > 1) {
      const cdp = await context.newCDPSession(page);
      await cdp.send('Emulation.setCPUThrottlingRate', { rate: throttle });
    }
    await page.goto(baseUrl, { waitUntil: 'networkidle', timeout: 60_000 });
    await page.locator('.vt[data-active]').waitFor({ timeout: 30_000 });
    await page.waitForTimeout(1000);
    return { context, page };
  };
  const longest = (tasks) => Math.max(0, ...tasks.map((task) => task.duration));
  const fast = await open(1);
  const domAtRest = await fast.page.evaluate(() => document.getElementsByTagName('*').length);
  const unthrottled = await fastScroll(fast.page, 15_000, 3);
  await fast.context.close();
  const slow = await open(4);
  // Hydration starts after the first paint: the browser's own parsing and first layout
  // before it are not the island's.
  const woke = await slow.page.evaluate(() => {
    const painted = performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? 0;
    return window.__longTasks.filter((task) => task.start + task.duration > painted);
  });
  const start = await slow.page.evaluate(() => performance.now());
  const throttled = await fastScroll(slow.page, 15_000, 3);
  const scrolled = await slow.page.evaluate((t0) => window.__longTasks.filter((task) => task.start >= t0), start);
  await slow.context.close();
  return {
    speed_px_per_s: 15_000,
    fps: unthrottled.fps,
    visible_cells_seen: unthrottled.seen,
    visible_cells_grey: unthrottled.grey,
    dom_elements_max: Math.max(domAtRest, unthrottled.dom, throttled.dom),
    throttle: 4,
    hydration_longest_task_ms: longest(woke),
    scroll_longest_task_ms: longest(scrolled),
    scroll_fps_throttled: throttled.fps,
  };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

function lighthouse(path) {
  const dir = mkdtempSync(join(tmpdir(), 'flashbulb-lighthouse-'));
  const report = join(dir, 'report.json');
  // The CLI's defaults are the mobile preset: a Moto G Power screen, slow 4G and a 4× slower
  // CPU, simulated from the trace.
  const result = spawnSync(
    join(here, 'node_modules/.bin/lighthouse'),
    [
      baseUrl + path,
      '--output=json',
      `--output-path=${report}`,
      '--only-categories=performance,accessibility',
      ...(asVisitor(path) ? [] : [`--extra-headers=${JSON.stringify({ Cookie: `flashbulb_session=${session}` })}`]),
      `--chrome-flags=${chromiumFlags.join(' ')}`,
      '--quiet',
    ],
    { env: { ...process.env, CHROME_PATH: chromiumPath }, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  if (result.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`lighthouse ${path} exited with ${result.status ?? result.signal}`);
  }
  const lhr = JSON.parse(readFileSync(report, 'utf8'));
  rmSync(dir, { recursive: true, force: true });
  if (lhr.runtimeError) throw new Error(`lighthouse ${path}: ${lhr.runtimeError.message}`);
  const audit = (id) => lhr.audits[id]?.numericValue ?? null;
  const failing = (category) =>
    lhr.categories[category].auditRefs
      .filter((ref) => ref.weight > 0 && lhr.audits[ref.id].score !== null && lhr.audits[ref.id].score < 1)
      .map((ref) => ref.id);
  return {
    performance: Math.round(lhr.categories.performance.score * 100),
    accessibility: Math.round(lhr.categories.accessibility.score * 100),
    lcp_ms: audit('largest-contentful-paint'),
    tbt_ms: audit('total-blocking-time'),
    cls: audit('cumulative-layout-shift'),
    fcp_ms: audit('first-contentful-paint'),
    failing_performance: failing('performance'),
    failing_accessibility: failing('accessibility'),
    lighthouse_version: lhr.lighthouseVersion,
  };
}

const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumFlags });
const report = { base_url: baseUrl, lighthouse_runs: runs, pages: {} };
for (const path of pages) {
  const weight = await pageWeight(browser, path);
  const samples = [];
  for (let run = 0; run < runs; run += 1) samples.push(lighthouse(path));
  const medianOf = (key) => median(samples.map((sample) => sample[key]));
  report.pages[path] = {
    weight,
    lighthouse: {
      runs: samples,
      performance: medianOf('performance'),
      accessibility: medianOf('accessibility'),
      lcp_ms: medianOf('lcp_ms'),
      tbt_ms: medianOf('tbt_ms'),
      cls: medianOf('cls'),
      fcp_ms: medianOf('fcp_ms'),
      version: samples[0].lighthouse_version,
    },
  };
  const lh = report.pages[path].lighthouse;
  console.log(
    `${path}: first load ${weight.first_load_brotli} B brotli (+${weight.lazy_brotli} B lazy), ` +
      `performance ${lh.performance}, accessibility ${lh.accessibility}, LCP ${Math.round(lh.lcp_ms)} ms, ` +
      `TBT ${Math.round(lh.tbt_ms)} ms, CLS ${lh.cls.toFixed(3)}`,
  );
}
report.interactions = await interactionLatency(browser);
for (const [path, result] of Object.entries(report.interactions)) {
  console.log(`${path}: ${result.what}: INP ${result.inp_ms === null ? 'under 16' : Math.round(result.inp_ms)} ms`);
}
const motion = await timelineMotion(browser);
report.timeline_motion = motion;
console.log(
  `/: fast scroll ${motion.fps.toFixed(1)} fps, ${motion.visible_cells_grey} of ${motion.visible_cells_seen} visible cells grey, ` +
    `DOM at most ${motion.dom_elements_max}; 4× CPU: longest task waking ${Math.round(motion.hydration_longest_task_ms)} ms, ` +
    `scrolling ${Math.round(motion.scroll_longest_task_ms)} ms`,
);
await browser.close();
writeFileSync(out, JSON.stringify(report, null, 2));
