// Signing up in the console (emulators with REQUIRE_AUTH=true; run like signed-in.test.mjs): the
// new user's account is made by createAccount at once, without credits and with a notice that
// asks for a verified e-mail; the e-mail is verified here through the Auth emulator's REST API
// (the link it prints), and "check again" brings the welcome credits, once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import {
  BASE_URL, SCREENSHOT_DIR, launchBrowser, signIn, signOut, signUp, tid, waitForCredits,
} from '../lib/browser.mjs';

const AUTH_HOST = process.env.FIREBASE_AUTH_EMULATOR_HOST || '127.0.0.1:9099';
const PROJECT = 'feraset-imagen';
const PASSWORD = 'a-new-users-password';

let browser;
const pageErrors = [];

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

async function openConsole(label) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(30_000);
  const page = await context.newPage();
  const calls = [];
  const violations = [];
  page.on('pageerror', (err) => pageErrors.push(`${label}: ${err.message}`));
  page.on('response', async (response) => {
    if (response.url().includes('/api/createAccount')) calls.push(response.status());
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy/i.test(msg.text())) violations.push(msg.text());
  });
  await page.goto(`${BASE_URL}/index.html`, { waitUntil: 'domcontentloaded' });
  return { context, page, calls, violations };
}

/** Follow the verification e-mail the console asked for: its code from the emulator's outbox. */
async function verifyEmail(email) {
  const outbox = await fetch(`http://${AUTH_HOST}/emulator/v1/projects/${PROJECT}/oobCodes`);
  assert.equal(outbox.status, 200);
  const codes = (await outbox.json()).oobCodes
    .filter((c) => c.email === email && c.requestType === 'VERIFY_EMAIL');
  assert.ok(codes.length > 0, `the console sent no verification e-mail to ${email}`);
  const applied = await fetch(`http://${AUTH_HOST}/identitytoolkit.googleapis.com/v1/accounts:update?key=any`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ oobCode: codes.at(-1).oobCode }),
  });
  assert.equal(applied.status, 200, await applied.text());
}

test('a new user signs up, is asked to verify the e-mail, verifies it and gets the welcome credits once', async () => {
  const { context, page, calls, violations } = await openConsole('sign-up');
  const email = `signup-${randomUUID().slice(0, 8)}@example.com`;
  await signUp(page, email, PASSWORD);

  // The console made the account itself: 0 credits, and the notice asks for the verification.
  const notice = page.locator(tid('welcome-notice'));
  await notice.waitFor({ state: 'visible' });
  assert.match(await notice.textContent(), /Verify your e-mail.*welcome credits/);
  assert.match(await notice.textContent(), new RegExp(email.replace('.', '\\.')));
  await waitForCredits(page, 0);
  assert.deepEqual(calls, [201], 'createAccount made the account once');
  assert.equal(await page.locator(tid('account-error')).textContent(), '');

  // Checking again before verifying changes nothing.
  await page.locator(tid('welcome-recheck')).click();
  await page.waitForFunction((sel) => /Not verified yet/.test(document.querySelector(sel)?.textContent), tid('welcome-status'));
  await waitForCredits(page, 0);
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'index-signed-up-unverified.png'), fullPage: true });

  await verifyEmail(email);
  await page.locator(tid('welcome-recheck')).click();
  await waitForCredits(page, 10);
  await notice.waitFor({ state: 'hidden' });
  const welcome = page.locator(`${tid('tx-item')}[data-type="welcome"]`);
  await welcome.waitFor({ state: 'visible' });
  assert.match(await welcome.textContent(), /\+10/);
  assert.match(await welcome.textContent(), /Welcome credits/);
  assert.equal(await page.locator(tid('tx-item')).count(), 1);

  // Signing in again calls createAccount again: the same account, nothing more.
  await signOut(page);
  await signIn(page, email, PASSWORD);
  await waitForCredits(page, 10);
  assert.equal(await notice.isVisible(), false);
  await page.locator(`${tid('tx-item')}[data-type="welcome"]`).waitFor({ state: 'visible' });
  assert.equal(await page.locator(tid('tx-item')).count(), 1);
  assert.equal(calls[0], 201);
  assert.ok(calls.slice(1).every((status) => status === 200), `createAccount answers: ${calls}`);
  await signOut(page);
  assert.deepEqual(violations, [], 'no CSP violation');
  await context.close();
});

test('signing up with an e-mail that has an account asks to sign in', async () => {
  const { context, page, calls } = await openConsole('sign-up-taken');
  await page.waitForFunction((sel) => document.querySelector(sel)?.disabled === false, tid('signup-button'));
  await page.locator(tid('signin-email')).fill('emma_photo@example.com');
  await page.locator(tid('signin-password')).fill(PASSWORD);
  await page.locator(tid('signup-button')).click();
  await page.waitForFunction((sel) => document.querySelector(sel)?.textContent.trim() !== '', tid('signin-error'));
  assert.match(await page.locator(tid('signin-error')).textContent(), /exists already: sign in/);
  assert.equal(await page.locator(tid('session-bar')).isVisible(), false);
  assert.deepEqual(calls, []);
  await context.close();
});

test('a seeded user signing in keeps its balance: createAccount answers 200, no notice', async () => {
  const { context, page, calls } = await openConsole('seeded');
  await signIn(page, 'emma_photo@example.com');
  await page.waitForFunction(() => window.__feraset.state.account !== null);
  await page.waitForFunction((sel) => document.querySelector(sel)?.children.length > 0, tid('tx-list'));
  assert.ok(calls.length >= 1 && calls.every((status) => status === 200), `createAccount answers: ${calls}`);
  assert.equal(await page.locator(tid('welcome-notice')).isVisible(), false);
  assert.equal(await page.locator(`${tid('tx-item')}[data-type="welcome"]`).count(), 0);
  await signOut(page);
  await context.close();
});

test('no uncaught errors in the pages', () => {
  assert.deepEqual(pageErrors, []);
});
