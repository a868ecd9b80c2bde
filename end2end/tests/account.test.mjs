// Accounts end to end: a visitor is sent to sign in, signs in with the form, lands on the
// timeline whose island hydrates under the Content-Security-Policy (inline scripts only with
// the rendering's nonce, or, for a page from the cache, by their digests), and signs out again.
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

test('a visitor signs in, the page hydrates under its CSP, and signs out', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = watchErrors(page);

  // The sign-in page is rendered for each response, with a nonce of its own.
  const signin = await page.goto(`${baseUrl}/albums`);
  assert.equal(new URL(page.url()).pathname, '/signin');
  const signinNonce = /'nonce-([^']+)'/.exec(signin.headers()['content-security-policy'])?.[1];
  assert.ok(signinNonce, 'the sign-in page names no nonce');
  assert.ok((await signin.text()).includes(`nonce="${signinNonce}"`));
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

  // The timeline, from the page cache: a CSP whose script-src admits no inline script but
  // those whose digests it names, and no nonce (many responses share a stored page); the
  // island hydrating anyway (its cells exist only once the WASM runs).
  const response = await page.goto(baseUrl);
  const policy = response.headers()['content-security-policy'];
  assert.ok(policy, 'no Content-Security-Policy');
  const scriptSrc = policy.split(';').find((d) => d.trim().startsWith('script-src'));
  assert.doesNotMatch(scriptSrc, /unsafe-inline/);
  assert.doesNotMatch(scriptSrc, /'nonce-/);
  assert.match(scriptSrc, /'sha256-[A-Za-z0-9+/=]+'/);
  const html = await response.text();
  assert.doesNotMatch(html, / nonce="/, 'a stored page still carries a nonce');
  await page.locator('.vt [data-photo-id]').first().waitFor({ timeout: 30_000 });
  // A script whose digest the policy does not name is refused, as an injected one would be.
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
