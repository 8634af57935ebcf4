// Browser tests for the console as a signed-in user's app, against emulators started with
// REQUIRE_AUTH=true, a fresh seed and the Auth accounts of scripts/data/seed_auth.py:
//   npm run build:web
//   UI_BASE_URL=http://127.0.0.1:8888 node --test tests/browser-auth/
// Requires `playwright-core` and Debian's chromium (CHROMIUM_PATH, default /usr/bin/chromium).
// Screenshots go to test-output/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  BASE_URL, GENERATION_TIMEOUT_MS, SCREENSHOT_DIR, launchBrowser, signIn, signOut, storeQueuedRequest, tid,
  waitForCredits,
} from '../lib/browser.mjs';

let browser;
const pageErrors = [];

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

/**
 * A page in a context of its own (its own IndexedDB, so no signed-in user carries over), with
 * every request URL it makes and every CSP violation it reports.
 */
async function openConsole(label, { beforeLoad } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(30_000);
  const page = await context.newPage();
  await beforeLoad?.(page);
  const requests = [];
  const violations = [];
  page.on('request', (request) => requests.push(request.url()));
  page.on('pageerror', (err) => pageErrors.push(`${label}: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy/i.test(msg.text())) violations.push(msg.text());
  });
  await page.goto(`${BASE_URL}/index.html`, { waitUntil: 'domcontentloaded' });
  return { context, page, requests, violations };
}

/** Waits until the form is built from getCatalog and a user is acted for (the submit button enables). */
async function waitForForm(page) {
  await page.waitForSelector(`${tid('field-size')} option[value="512x512"]`, { state: 'attached' });
  await page.waitForFunction((sel) => !document.querySelector(sel).disabled, tid('submit-button'));
}

const calls = (requests, name) => requests.filter((url) => url.includes(`/api/${name}`));

test('emma_photo signs in, her new request turns completed live (no polling, no reload), she cancels a queued one and gets the credit back, she signs out', async () => {
  const { context, page, requests, violations } = await openConsole('signed-in');
  await page.locator(tid('signin-form')).waitFor({ state: 'visible' });
  await signIn(page, 'emma_photo@example.com');

  // Acting as the signed-in uid: no picker.
  assert.equal(await page.locator(tid('acting-as-uid')).textContent(), 'emma_photo');
  assert.equal(await page.locator(tid('user-select')).isVisible(), false, 'no user picker when signed in');
  assert.equal(await page.locator(tid('signin-form')).isVisible(), false);
  await waitForCredits(page, 67);
  await waitForForm(page);
  await page.evaluate(() => { window.__sameDocument = true; }); // gone if the page reloads

  await page.locator(tid('field-model')).selectOption('Model A');
  await page.locator(tid('field-size')).selectOption('512x512');
  await page.locator(tid('field-prompt')).fill('A harbour at dawn, signed in');
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().includes('/createGenerationRequest') && r.request().method() === 'POST'),
    page.locator(tid('submit-button')).click(),
  ]);
  assert.equal(response.status(), 202, `createGenerationRequest answered ${response.status()}: ${await response.text()}`);
  assert.match(response.request().headers().authorization ?? '', /^Bearer \S+\.\S+\.\S*$/, 'the ID token is sent');
  assert.equal(response.request().postDataJSON().userId, 'emma_photo');
  const id = (await response.json()).generationRequestId;

  const itemSel = `${tid('request-item')}[data-request-id="${id}"]`;
  await page.waitForFunction(
    (sel) => ['completed', 'failed'].includes(document.querySelector(sel)?.dataset.status),
    itemSel,
    { timeout: GENERATION_TIMEOUT_MS },
  );
  const item = page.locator(itemSel);
  assert.equal(await item.getAttribute('data-status'), 'completed');
  assert.equal(await item.locator(tid('request-progress')).getAttribute('value'), '100');
  await item.locator(tid('request-image')).scrollIntoViewIfNeeded();
  await page.waitForFunction(
    (sel) => { const img = document.querySelector(sel); return img && img.complete && img.naturalWidth > 0; },
    `${itemSel} ${tid('request-image')}`,
    { timeout: 20_000 },
  );
  assert.deepEqual(await item.locator(tid('request-image')).evaluate((img) => [img.naturalWidth, img.naturalHeight]), [512, 512]);
  await waitForCredits(page, 66);

  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was reloaded');
  assert.deepEqual(calls(requests, 'getGenerationStatus'), [], 'status came from the live listener, not polling');
  assert.deepEqual(calls(requests, 'listGenerationRequests'), [], 'the list came from Firestore');
  assert.ok(requests.some((url) => url.startsWith('http://127.0.0.1:5561/')), 'the Firestore emulator is listened to');
  assert.equal(await page.evaluate(() => window.__feraset.state.pollers.size), 0, 'nothing is polled');

  // A request still queued (stored without a task: the test profile's worker is instant) shows
  // up live; cancelling it refunds the credit, and the history shows the refund.
  const queuedId = await storeQueuedRequest('emma_photo');
  const queuedSel = `${tid('request-item')}[data-request-id="${queuedId}"]`;
  await page.locator(`${queuedSel}[data-status="queued"]`).waitFor({ state: 'visible' });
  await page.locator(`${queuedSel} ${tid('request-cancel')}`).click();
  await page.locator(`${queuedSel}[data-status="cancelled"]`).waitFor({ state: 'visible' });
  // Stored at 65 (66 minus the queued request's credit): the refund brings it back, and the
  // reloaded history shows it.
  await page.locator(`${tid('tx-item')}[data-type="refund"]`).filter({ hasText: queuedId.slice(0, 8) })
    .filter({ hasText: 'Cancelled by the user' }).first().waitFor({ state: 'visible' });
  await waitForCredits(page, 66);
  assert.equal(await page.locator(`${queuedSel} ${tid('request-cancel')}`).count(), 0, 'no Cancel once cancelled');
  assert.deepEqual(calls(requests, 'getGenerationStatus'), [], 'still no polling');
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'index-signed-in.png'), fullPage: true });

  await signOut(page);
  assert.equal(await page.evaluate(() => window.__feraset.state.unwatch), null, 'the listener is gone');
  await page.locator(tid('user-select')).waitFor({ state: 'visible' }); // signed out: the picker
  // Auth is required: the user list is for admins, so it stays empty and a sign-in is asked for.
  await page.locator(tid('auth-prompt')).waitFor({ state: 'visible' });
  assert.match(await page.locator(tid('auth-prompt')).textContent(), /admins only \(HTTP 403\).*Sign in/);
  assert.equal(await page.locator(`${tid('user-select')} option[value="arda"]`).count(), 0);
  assert.equal(await page.locator(tid('user-select')).inputValue(), '', 'signed out, it no longer acts as emma_photo');
  assert.deepEqual(violations, [], 'no CSP violation');
  await context.close();
});

test('the admin tools show only for an ID token with the admin claim', async () => {
  const { context, page, violations } = await openConsole('admin');
  await page.locator(tid('admin-card')).waitFor({ state: 'visible' }); // signed out: as today
  await signIn(page, 'emma_photo@example.com');
  await page.locator(tid('admin-card')).waitFor({ state: 'hidden' });
  assert.equal(await page.locator(tid('seed-button')).isVisible(), false);
  assert.equal(await page.locator(tid('report-button')).isVisible(), false);
  assert.equal(await page.locator(tid('session-admin')).isVisible(), false);
  await signOut(page);

  await signIn(page, 'admin@example.com');
  await page.locator(tid('admin-card')).waitFor({ state: 'visible' });
  assert.equal(await page.locator(tid('seed-button')).isVisible(), true);
  assert.equal(await page.locator(tid('report-button')).isVisible(), true);
  assert.equal(await page.locator(tid('session-admin')).isVisible(), true);
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'index-signed-in-admin.png'), fullPage: true });
  await signOut(page);
  assert.deepEqual(violations, [], 'no CSP violation');
  await context.close();
});

test('a wrong password is refused with a message', async () => {
  const { context, page } = await openConsole('wrong-password');
  await page.waitForFunction((sel) => document.querySelector(sel)?.disabled === false, tid('signin-button'));
  await page.locator(tid('signin-email')).fill('emma_photo@example.com');
  await page.locator(tid('signin-password')).fill('not-the-password');
  await page.locator(tid('signin-button')).click();
  await page.waitForFunction((sel) => document.querySelector(sel)?.textContent.trim() !== '', tid('signin-error'));
  assert.match(await page.locator(tid('signin-error')).textContent(), /Wrong email or password/);
  assert.equal(await page.locator(tid('session-bar')).isVisible(), false);
  await context.close();
});

test('signed out in the auth-required mode, the user list is refused and a sign-in asked for', async () => {
  const { context, page, requests, violations } = await openConsole('signed-out-list');
  const prompt = page.locator(tid('auth-prompt'));
  await prompt.waitFor({ state: 'visible' });
  assert.match(await prompt.textContent(), /admins only \(HTTP 403\).*Sign in/);
  assert.equal(await page.locator(`${tid('user-select')} option[value="arda"]`).count(), 0);
  assert.equal(await page.locator(tid('signin-form')).isVisible(), true);
  assert.equal(calls(requests, 'listUsers').length, 1);
  assert.deepEqual(violations, [], 'no CSP violation');
  await context.close();
});

// The user list served anyway (an admin's, say), so that a user can be picked signed out.
const listUsersServed = (page) => page.route('**/api/listUsers*', (route) => route.fulfill({
  json: { success: true, users: [{ userId: 'arda', name: 'Arda', email: 'arda@example.com' }] },
}));

test('signed out in the auth-required mode, a 401 asks for a sign-in once instead of retrying', async () => {
  const { context, page, requests } = await openConsole('signed-out', { beforeLoad: listUsersServed });
  await page.waitForSelector(`${tid('user-select')} option[value="arda"]`, { state: 'attached' });
  await page.locator(tid('user-select')).selectOption('arda');
  const prompt = page.locator(tid('auth-prompt'));
  await prompt.waitFor({ state: 'visible' });
  assert.match(await prompt.textContent(), /HTTP 401.*Sign in/);
  assert.equal(await page.evaluate(() => window.__feraset.state.pollers.size), 0, 'nothing is polled');
  const userCalls = () => ['getUserCredits', 'listGenerationRequests', 'getGenerationStatus']
    .reduce((n, name) => n + calls(requests, name).length, 0);
  const sofar = userCalls();
  await page.waitForTimeout(3000);
  assert.equal(userCalls(), sofar, 'no retries after the 401');
  await context.close();
});

test('no uncaught errors in the pages', () => {
  assert.deepEqual(pageErrors, []);
});
