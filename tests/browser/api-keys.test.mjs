// The API keys panel belongs to a signed-in user: in the open emulator mode (signed out, acting
// through the user picker) it is not shown and the page never asks for keys. Run like ui.test.mjs:
//   UI_BASE_URL=http://127.0.0.1:8888 node --test tests/browser/
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { BASE_URL, launchBrowser, removeUser, storeUser, tid } from '../lib/browser.mjs';

let browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

test('signed out, the console shows no API keys panel and calls no key function', async () => {
  // A user of its own: the other files of this suite run meanwhile and seed when they choose.
  const userId = `keys_open_${randomUUID().slice(0, 8)}`;
  await storeUser(userId, { credits: 7 });
  try {
    await panelStaysHidden(userId);
  } finally {
    await removeUser(userId); // the Postman run after this suite counts the seeded users
  }
});

async function panelStaysHidden(userId) {
  const context = await browser.newContext();
  context.setDefaultTimeout(30_000);
  const page = await context.newPage();
  const pageErrors = [];
  const keyCalls = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('request', (request) => {
    if (/\/(createApiKey|listApiKeys|revokeApiKey)\b/.test(request.url())) keyCalls.push(request.url());
  });
  await page.goto(`${BASE_URL}/index.html`, { waitUntil: 'domcontentloaded' });

  // Sign-in has started (its button enables) and the open mode's picker lists the users.
  await page.waitForFunction((sel) => document.querySelector(sel)?.disabled === false, tid('signin-button'));
  await page.waitForSelector(`${tid('user-select')} option[value="${userId}"]`, { state: 'attached' });
  const card = page.locator(tid('api-keys-card'));
  assert.equal(await card.count(), 1, 'the panel is in the page');
  assert.equal(await card.isVisible(), false, 'but not shown signed out');
  assert.equal(await card.getAttribute('hidden'), '');

  // Acting for a user through the picker does not show it either.
  await page.locator(tid('user-select')).selectOption(userId);
  await page.waitForFunction((sel) => document.querySelector(sel)?.textContent.trim() === '7', tid('credits-value'));
  assert.equal(await card.isVisible(), false);
  assert.equal(await page.locator(tid('api-key-create')).isVisible(), false);
  assert.equal(await page.locator(tid('api-key-secret')).inputValue(), '');
  assert.deepEqual(keyCalls, [], 'no API key function is called signed out');
  assert.deepEqual(pageErrors, []);
  await context.close();
}
