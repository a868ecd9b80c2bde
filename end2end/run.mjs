// Starts a Flashbulb server on a fresh, seeded database and a free port, runs the browser
// tests against it with node's test runner, then stops the server with SIGTERM.
//   FLASHBULB_BIN   the server binary (default ../target/debug/flashbulb)
//   E2E_PHOTOS      photos seeded for the run (default 1000000)
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const bin = process.env.FLASHBULB_BIN ?? join(root, 'target/debug/flashbulb');
const dataDir = mkdtempSync(join(tmpdir(), 'flashbulb-e2e-'));
mkdirSync(join(here, 'results'), { recursive: true });

function freePort() {
  return new Promise((ok, fail) => {
    const probe = createServer();
    probe.once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => ok(port));
    });
  });
}

const port = await freePort();
const env = {
  ...process.env,
  FLASHBULB_DATA_DIR: dataDir,
  FLASHBULB_LISTEN: `127.0.0.1:${port}`,
  FLASHBULB_SITE_ROOT: join(root, 'target/site'),
  FLASHBULB_LOG: 'warn',
  // Every page the tests open reports its Web Vitals from this one address.
  FLASHBULB_VITALS_PER_MINUTE: '100000',
};

// The million-photo library shows colour placeholders: the timeline's measurements (frames,
// long tasks at 4x CPU) are of the page's own work, comparable from run to run. A second,
// small library shows the demo's pictures, as a new user's does.
const photos = process.env.E2E_PHOTOS ?? '1000000';
const password = 'end-to-end password';
for (const [owner, seedArgs, userArgs] of [
  ['demo', ['--photos', photos, '--without-pictures'], ['--admin']],
  ['gallery', ['--photos', '3000', '--owner', 'gallery'], []],
]) {
  const seeded = spawnSync(bin, ['seed', ...seedArgs], { env, stdio: 'inherit' });
  if (seeded.status !== 0) {
    console.error(`seeding ${owner}'s library failed (exit ${seeded.status}); is ${bin} built?`);
    process.exit(1);
  }
  // The owners sign in with this password (the browser tests reuse demo's session).
  const added = spawnSync(bin, ['user', 'add', owner, ...userArgs], {
    env: { ...env, FLASHBULB_PASSWORD: password },
    stdio: 'inherit',
  });
  if (added.status !== 0) {
    console.error(`giving ${owner} a password failed (exit ${added.status})`);
    process.exit(1);
  }
}

const server = spawn(bin, ['serve'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
let serverExit = null;
server.on('exit', (code, signal) => {
  serverExit = { code, signal };
});

const baseUrl = `http://127.0.0.1:${port}`;
const deadline = Date.now() + 60_000;
for (;;) {
  if (serverExit) {
    console.error(`the server exited before it answered: ${JSON.stringify(serverExit)}`);
    process.exit(1);
  }
  try {
    const response = await fetch(`${baseUrl}/healthz`);
    if (response.ok) break;
  } catch {
    // not listening yet
  }
  if (Date.now() > deadline) {
    console.error('the server did not answer /healthz within 60 s');
    server.kill('SIGKILL');
    process.exit(1);
  }
  await new Promise((ok) => setTimeout(ok, 200));
}

// One session for every test's browser context: signing in is tested on its own page.
const signIn = await fetch(`${baseUrl}/signin`, {
  method: 'POST',
  redirect: 'manual',
  headers: { 'content-type': 'application/x-www-form-urlencoded', origin: baseUrl },
  body: new URLSearchParams({ username: 'demo', password }),
});
const session = /flashbulb_session=([0-9a-f]+)/.exec(signIn.headers.get('set-cookie') ?? '')?.[1];
if (!session) {
  console.error(`signing in as demo failed: ${signIn.status}`);
  server.kill('SIGKILL');
  process.exit(1);
}

const tests = spawnSync(
  process.execPath,
  // E2E_TESTS="timeline scale" runs only those files (tests/timeline.test.mjs, …).
  [
    '--test',
    '--test-concurrency=1',
    '--test-reporter=spec',
    ...(process.env.E2E_TESTS
      ? process.env.E2E_TESTS.split(/[\s,]+/).filter(Boolean).map((name) => join(here, 'tests', `${name}.test.mjs`))
      : [join(here, 'tests')]),
  ],
  {
    env: {
      ...process.env,
      E2E_BASE_URL: baseUrl,
      E2E_PHOTOS: photos,
      E2E_SESSION: session,
      E2E_USER: 'demo',
      E2E_PASSWORD: password,
    },
    stdio: 'inherit',
    cwd: here,
  },
);

server.kill('SIGTERM');
const stopped = await new Promise((ok) => {
  if (serverExit) return ok(serverExit);
  const timer = setTimeout(() => ok(null), 15_000);
  server.on('exit', (code, signal) => {
    clearTimeout(timer);
    ok({ code, signal });
  });
});
rmSync(dataDir, { recursive: true, force: true });

if (!stopped || stopped.code !== 0) {
  console.error(`the server did not shut down cleanly on SIGTERM: ${JSON.stringify(stopped)}`);
  process.exit(1);
}
process.exit(tests.status ?? 1);
