// "Your data" in the signed-in console (emulators with REQUIRE_AUTH=true; run like
// signed-in.test.mjs): a user made for this test (signed up through the Auth emulator's REST API,
// its account made by createAccount; never a seeded user) downloads its data as a file, then
// deletes the account after confirming with "delete", and ends signed out with its Auth user gone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { BASE_URL, launchBrowser, signIn, tid } from '../lib/browser.mjs';

const AUTH_HOST = process.env.FIREBASE_AUTH_EMULATOR_HOST || '127.0.0.1:9099';
const PASSWORD = 'a-deleted-users-password';

let browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

async function identityToolkit(method, body) {
  return fetch(`http://${AUTH_HOST}/identitytoolkit.googleapis.com/v1/accounts:${method}?key=any`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** A new e-mail/password user with its account (createAccount through Hosting's rewrite). */
async function newAccount() {
  const email = `delete-${randomUUID().slice(0, 8)}@example.com`;
  const signedUp = await identityToolkit('signUp', { email, password: PASSWORD, returnSecureToken: true });
  const answer = await signedUp.text();
  assert.equal(signedUp.status, 200, answer);
  const { idToken, localId } = JSON.parse(answer);
  const created = await fetch(`${BASE_URL}/api/createAccount`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${idToken}` },
    body: '{}',
  });
  const account = await created.text();
  assert.equal(created.status, 201, account);
  return { email, uid: localId };
}

test('a user downloads its data, then deletes the account and ends signed out', async () => {
  const { email, uid } = await newAccount();
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  context.setDefaultTimeout(30_000);
  const page = await context.newPage();
  const pageErrors = [];
  const violations = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy/i.test(msg.text())) violations.push(msg.text());
  });
  await page.goto(`${BASE_URL}/index.html`, { waitUntil: 'domcontentloaded' });
  await signIn(page, email, PASSWORD);
  const card = page.locator(tid('account-data-card'));
  await card.waitFor({ state: 'visible' });

  // "Download my data": a JSON file with the profile, the requests and the ledger.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.locator(tid('export-button')).click(),
  ]);
  assert.equal(download.suggestedFilename(), `feraset-account-${uid}.json`);
  const exported = JSON.parse(await readFile(await download.path(), 'utf8'));
  assert.equal(exported.userId, uid);
  assert.equal(exported.profile.email, email);
  assert.deepEqual(exported.generationRequests, []);
  await page.waitForFunction((sel) => /Downloaded/.test(document.querySelector(sel)?.textContent), tid('export-status'));

  // Without the confirmation nothing happens.
  await page.locator(tid('delete-confirm')).fill('not me');
  await page.locator(tid('delete-account-button')).click();
  await page.waitForFunction((sel) => /to confirm/.test(document.querySelector(sel)?.textContent), tid('delete-account-error'));
  assert.equal(await page.locator(tid('session-email')).textContent(), email);

  // Confirmed: deleted, and signed out.
  await page.locator(tid('delete-confirm')).fill('delete');
  await page.locator(tid('delete-account-button')).click();
  await page.locator(tid('session-bar')).waitFor({ state: 'hidden' });
  await page.locator(tid('signin-form')).waitFor({ state: 'visible' });
  assert.equal(await card.isVisible(), false);

  // The Auth user is gone: signing in with it fails.
  const again = await identityToolkit('signInWithPassword', { email, password: PASSWORD, returnSecureToken: true });
  assert.equal(again.status, 400);
  assert.match((await again.json()).error.message, /EMAIL_NOT_FOUND|INVALID_LOGIN_CREDENTIALS/);
  assert.deepEqual(pageErrors, [], 'no page error');
  assert.deepEqual(violations, [], 'no CSP violation');
  await context.close();
});
