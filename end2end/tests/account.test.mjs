// Accounts end to end: a visitor is sent to sign in, signs in with the form, lands on the
// timeline whose island hydrates under the Content-Security-Policy (scripts only with the
// page's nonce), and signs out again.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { baseUrl, launch, resultsDir, watchErrors } from './browser.mjs';

const user = process.env.E2E_USER ?? 'demo';
const password = process.env.E2E_PASSWORD ?? '';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test('a visitor signs in, the page hydrates under its CSP nonce, and signs out', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = watchErrors(page);

  await page.goto(`${baseUrl}/albums`);
  assert.equal(new URL(page.url()).pathname, '/signin');
  await page.screenshot({ path: `${resultsDir}/signin.png` });

  // A wrong password comes back with the reason, and no session.
  await page.fill('input[name=username]', user);
  await page.fill('input[name=password]', 'not the password');
  await page.click('button[type=submit]');
  await page.locator('.form-error').waitFor();
  assert.match(await page.locator('.form-error').innerText(), /do not match/);
  assert.equal((await context.cookies()).filter((c) => c.name === 'flashbulb_session').length, 0);

  // The right one lands on the page first asked for.
  await page.fill('input[name=username]', user);
  await page.fill('input[name=password]', password);
  await Promise.all([page.waitForURL(`${baseUrl}/albums`), page.click('button[type=submit]')]);
  const cookie = (await context.cookies()).find((c) => c.name === 'flashbulb_session');
  assert.ok(cookie, 'no session cookie');
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Lax');

  // The timeline: a CSP whose script-src allows no inline script but the nonce's, and the
  // island hydrating anyway (its cells exist only once the WASM runs).
  const response = await page.goto(baseUrl);
  const policy = response.headers()['content-security-policy'];
  assert.ok(policy, 'no Content-Security-Policy');
  const scriptSrc = policy.split(';').find((d) => d.trim().startsWith('script-src'));
  assert.doesNotMatch(scriptSrc, /unsafe-inline/);
  const nonce = /'nonce-([^']+)'/.exec(scriptSrc)?.[1];
  assert.ok(nonce, policy);
  const html = await response.text();
  assert.ok(html.includes(`nonce="${nonce}"`), 'the hydration script lacks the nonce');
  await page.locator('.vt [data-photo-id]').first().waitFor({ timeout: 30_000 });
  // A script without the nonce is refused, as an injected one would be.
  const injected = await page.evaluate(async () => {
    const script = document.createElement('script');
    script.textContent = 'window.__injected = true;';
    document.head.appendChild(script);
    await new Promise((resolve) => setTimeout(resolve, 50));
    return window.__injected === true;
  });
  assert.equal(injected, false, 'an inline script without the nonce ran');
  const refused = errors.filter((e) => /Content Security Policy/.test(e));
  assert.equal(refused.length, 1, `only the injected script is refused: ${refused.join('\n')}`);
  assert.deepEqual(errors.filter((e) => !/Content Security Policy/.test(e)), []);
  await page.screenshot({ path: `${resultsDir}/signed-in.png` });

  // Signing out ends the session: the next page asks to sign in again.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(`${baseUrl}/signin`);
  await page.goto(baseUrl);
  assert.equal(new URL(page.url()).pathname, '/signin');
  await context.close();
});
