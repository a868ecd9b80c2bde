// Phones: every page fits a 390 × 844 screen without scrolling sideways, and its menu reaches
// every destination and the account, with and without JavaScript.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { baseUrl, launch, resultsDir, signedIn, watchErrors } from './browser.mjs';

const phone = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };
const destinations = [
  ['/', 'Timeline'],
  ['/favourites', 'Favourites'],
  ['/albums', 'Albums'],
  ['/search', 'Search'],
  ['/trash', 'Trash'],
  ['/ops', 'Operations'],
  ['/users', 'Users'],
];

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** Whether the element lies wholly inside the screen's width and is not cut by its own box. */
async function fullyShown(locator) {
  const box = await locator.boundingBox();
  const uncut = await locator.evaluate((element) => element.scrollWidth <= element.clientWidth + 1);
  return box !== null && box.x >= 0 && box.x + box.width <= phone.viewport.width && uncut;
}

for (const javaScriptEnabled of [true, false]) {
  test(`on a phone every page reaches every destination through its menu, ${javaScriptEnabled ? 'with' : 'without'} JavaScript`, async () => {
    const context = await signedIn(browser, { ...phone, javaScriptEnabled });
    const page = await context.newPage();
    const errors = javaScriptEnabled ? watchErrors(page) : [];
    await page.goto(baseUrl);
    const photoId = await page.locator('[data-photo-id]').first().getAttribute('data-photo-id');
    const pages = [...destinations.map(([path]) => path), `/p/${photoId}`];
    for (const path of pages) {
      await page.goto(`${baseUrl}${path}`);
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= phone.viewport.width, `${path} scrolls sideways: ${width}px`);
      // The bar's own links give way to the menu on a phone.
      assert.equal(await page.locator('nav.primary').isVisible(), false, `${path}: the wide bar shows`);
      const menu = page.locator('details.menu');
      await menu.locator('summary').click();
      const panel = menu.locator('.menu-panel');
      for (const [href, label] of destinations) {
        const link = panel.getByRole('link', { name: label, exact: true });
        assert.equal(await link.getAttribute('href'), href);
        assert.ok(await fullyShown(link), `${path}: ${label} is not fully on screen`);
      }
      const current = destinations.find(([href]) => href === path);
      if (current) {
        assert.equal(await panel.getByRole('link', { name: current[1], exact: true }).getAttribute('aria-current'), 'page');
      }
      assert.ok(await fullyShown(panel.locator('.signout span')), `${path}: the user name is cut`);
      assert.ok(await fullyShown(panel.getByRole('button', { name: 'Sign out' })), `${path}: sign out is cut`);
      const name = path === '/' ? 'timeline' : path.slice(1).replace(/\/.*/, '');
      if (javaScriptEnabled) {
        await page.screenshot({ path: `${resultsDir}/phone-${name}-menu.png` });
        await menu.locator('summary').click();
        await page.screenshot({ path: `${resultsDir}/phone-${name}.png` });
      }
    }
    // The menu takes the visitor where it says.
    await page.goto(`${baseUrl}/`);
    await page.locator('details.menu summary').click();
    await Promise.all([
      page.waitForURL(`${baseUrl}/albums`),
      page.locator('.menu-panel').getByRole('link', { name: 'Albums', exact: true }).click(),
    ]);
    assert.deepEqual(errors, []);
    await context.close();
  });
}
