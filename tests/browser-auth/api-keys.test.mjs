// The console's API keys panel, signed in (emulators with REQUIRE_AUTH=true, a fresh seed and the
// Auth accounts of scripts/data/seed_auth.py; run like signed-in.test.mjs). A key created in the page
// is then used from here, as a script would: Node's fetch straight to the functions emulator.
// Keys carry the scopes and expiry chosen in the form; managing keys needs the sign-in itself.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  BASE_URL, DEMO_PASSWORD, SCREENSHOT_DIR, launchBrowser, signIn, signOut, tid,
} from '../lib/browser.mjs';

const FUNCTIONS_URL = (process.env.FUNCTIONS_BASE_URL || 'http://127.0.0.1:5551/feraset-imagen/us-central1')
  .replace(/\/+$/, '');
const AUTH_HOST = process.env.FIREBASE_AUTH_EMULATOR_HOST || '127.0.0.1:9099';
const MAX_ACTIVE_KEYS = 10;

let browser;
const pageErrors = [];

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

/**
 * A page in a context of its own, with every console message it logs and the Authorization
 * header of every request it sends.
 */
async function openConsole(label, { clipboard = true } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(30_000);
  if (clipboard) await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE_URL });
  const page = await context.newPage();
  const logs = [];
  const authHeaders = [];
  page.on('pageerror', (err) => pageErrors.push(`${label}: ${err.message}`));
  page.on('console', (msg) => logs.push(msg.text()));
  page.on('request', (request) => {
    const value = request.headers().authorization;
    if (value) authHeaders.push(value);
  });
  await page.goto(`${BASE_URL}/index.html`, { waitUntil: 'domcontentloaded' });
  return { context, page, logs, authHeaders };
}

/** Waits until listApiKeys has answered and the list is drawn. */
async function waitForKeyList(page) {
  await page.waitForFunction((sel) => {
    const list = document.querySelector(sel);
    return list && !list.hasAttribute('aria-busy') && list.children.length > 0;
  }, tid('api-key-list'));
}

const keyItem = (page, name) => page.locator(tid('api-key-item')).filter({
  has: page.locator(tid('api-key-item-name'), { hasText: new RegExp(`^${name}$`) }),
});

/** Create a key through the panel; its createApiKey answer and the key the page shows. */
async function createInPage(page, name) {
  await page.locator(tid('api-key-name')).fill(name);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().includes('/api/createApiKey') && r.request().method() === 'POST'),
    page.locator(tid('api-key-create')).click(),
  ]);
  return response;
}

/** A call from a script: getUserCredits with `Authorization: Bearer <credential>`. */
async function creditsWith(credential, userId) {
  const response = await fetch(`${FUNCTIONS_URL}/getUserCredits?userId=${encodeURIComponent(userId)}`, {
    headers: { Authorization: `Bearer ${credential}` },
  });
  return { status: response.status, text: await response.text() };
}

/** An ID token for a seeded account, from the Auth emulator's REST API. */
async function idTokenOf(email) {
  const response = await fetch(
    `http://${AUTH_HOST}/identitytoolkit.googleapis.com/v1/accounts:signInWithPassword?key=demo-key`,
    {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email, password: DEMO_PASSWORD, returnSecureToken: true }),
    },
  );
  const body = await response.json();
  assert.equal(response.status, 200, `Auth emulator sign-in failed: ${JSON.stringify(body)}`);
  return body.idToken;
}

/** Where the page still holds `secret`: markup, rendered text, form values, web storage. */
async function placesHolding(page, secret) {
  return page.evaluate((s) => {
    const found = [];
    if (document.documentElement.outerHTML.includes(s)) found.push('markup');
    if (document.body.innerText.includes(s)) found.push('text');
    for (const node of document.querySelectorAll('input, textarea')) {
      if (node.value.includes(s)) found.push(`value of #${node.id}`);
    }
    for (const [name, store] of [['localStorage', localStorage], ['sessionStorage', sessionStorage]]) {
      for (let i = 0; i < store.length; i += 1) {
        const key = store.key(i);
        if (key.includes(s) || String(store.getItem(key)).includes(s)) found.push(name);
      }
    }
    return found;
  }, secret);
}

test('sarah_artist creates a key, a script uses it as her, she revokes it and the script gets 401; the key is shown once and never stored', async () => {
  const { context, page, logs, authHeaders } = await openConsole('api-keys');
  await page.locator(tid('signin-form')).waitFor({ state: 'visible' });
  assert.equal(await page.locator(tid('api-keys-card')).isVisible(), false, 'no API keys panel signed out');

  await signIn(page, 'sarah_artist@example.com');
  await page.locator(tid('api-keys-card')).waitFor({ state: 'visible' });
  await waitForKeyList(page);
  assert.match(await page.locator(tid('api-key-list')).textContent(), /No API keys yet/);
  assert.equal(await page.locator(tid('api-key-reveal')).isVisible(), false);

  // A name is required; nothing is sent without one.
  const creates = [];
  page.on('request', (r) => { if (r.url().includes('/api/createApiKey')) creates.push(r.url()); });
  await page.locator(tid('api-key-create')).click();
  assert.match(await page.locator(tid('api-key-error')).textContent(), /Enter a name/);
  assert.equal(await page.locator(tid('api-key-name')).getAttribute('aria-invalid'), 'true');
  assert.equal(creates.length, 0);

  // Created: shown once, in a read-only field, with the warning.
  const response = await createInPage(page, 'ci');
  assert.equal(response.status(), 201, `createApiKey answered ${response.status()}: ${await response.text()}`);
  assert.match(response.request().headers().authorization ?? '', /^Bearer \S+\.\S+\.\S*$/, 'created with the ID token');
  const created = await response.json();
  const secret = page.locator(tid('api-key-secret'));
  await page.locator(tid('api-key-reveal')).waitFor({ state: 'visible' });
  const key = await secret.inputValue();
  assert.match(key, /^fsk_\S{20,}$/, 'the key has the fsk_ prefix');
  assert.equal(key, created.apiKey, 'the key shown is the one created');
  assert.equal(await secret.getAttribute('readonly'), '');
  assert.equal(await page.evaluate((sel) => document.activeElement === document.querySelector(sel), tid('api-key-secret')),
    true, 'the new key is focused');
  assert.match(await page.locator(tid('api-key-warning')).textContent(), /will not be shown again/);
  assert.equal(await page.locator(tid('api-key-name')).inputValue(), '', 'the name field is cleared');

  // Copy puts it on the clipboard.
  await page.locator(tid('api-key-copy')).click();
  await page.waitForFunction((sel) => document.querySelector(sel)?.dataset.state, tid('api-key-copy-status'));
  assert.equal(await page.locator(tid('api-key-copy-status')).getAttribute('data-state'), 'copied');
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), key);

  // Listed by name and prefix, with its dates; the list never holds the secret.
  const item = keyItem(page, 'ci');
  await item.waitFor({ state: 'visible' });
  assert.equal(await item.getAttribute('data-state'), 'active');
  assert.equal(await item.getAttribute('data-key-id'), created.keyId);
  const shownPrefix = await item.locator(tid('api-key-prefix')).textContent();
  assert.equal(shownPrefix, created.prefix, 'the listed prefix is the one createApiKey answered');
  const start = shownPrefix.replace(/…$/, '');
  assert.ok(start.startsWith('fsk_') && key.startsWith(start) && start.length < key.length - 16,
    `the prefix ${shownPrefix} is the start of the key, far from all of it`);
  assert.ok(!(await page.locator(tid('api-key-list')).textContent()).includes(key), 'the list shows no secret');
  assert.match(await item.textContent(), /Created.*Last used\s*Never/s);
  assert.deepEqual(await placesHolding(page, key), ['value of #api-key-secret'],
    'the key is in the read-only field only: not in the markup, the text, or web storage');
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'index-api-key-created.png'), fullPage: true });

  // A script uses it: it acts as sarah_artist, for her only.
  const own = await creditsWith(key, 'sarah_artist');
  assert.equal(own.status, 200, own.text);
  assert.equal(JSON.parse(own.text).currentCredits, 42);
  const other = await creditsWith(key, 'emma_photo');
  assert.equal(other.status, 403, other.text);
  assert.ok(!other.text.includes(key), 'the 403 body does not echo the key');

  // Revoked from the page (after a confirmation): the next call with it is refused.
  let confirmation = null;
  page.once('dialog', async (dialog) => { confirmation = dialog.message(); await dialog.accept(); });
  const [revoked] = await Promise.all([
    page.waitForResponse((r) => r.url().includes('/api/revokeApiKey') && r.request().method() === 'POST'),
    item.locator(tid('api-key-revoke')).click(),
  ]);
  assert.match(confirmation ?? '', /Revoke the API key “ci”/);
  assert.match(confirmation, /401/);
  assert.equal(revoked.status(), 200, await revoked.text());
  assert.deepEqual(revoked.request().postDataJSON(), { keyId: created.keyId });
  await page.locator(`${tid('api-key-item')}[data-key-id="${created.keyId}"][data-state="revoked"]`).waitFor({ state: 'visible' });
  assert.equal(await item.locator(tid('api-key-revoke')).count(), 0, 'no Revoke button once revoked');
  assert.match(await item.locator(tid('api-key-state')).textContent(), /Revoked/);
  assert.match(await item.textContent(), /Revoked\s*\S/);
  assert.equal(await page.locator(tid('api-key-reveal')).isVisible(), false, 'the revoked key is no longer shown');
  assert.equal(await secret.inputValue(), '');
  const after = await creditsWith(key, 'sarah_artist');
  assert.equal(after.status, 401, after.text);
  assert.ok(!after.text.includes(key), 'the 401 body does not echo the key');

  // Reloaded: still signed in, the key is listed (revoked, with its last use) and nowhere in the page.
  await page.reload({ waitUntil: 'domcontentloaded' });
  await page.locator(tid('api-keys-card')).waitFor({ state: 'visible' });
  await waitForKeyList(page);
  await page.locator(`${tid('api-key-item')}[data-key-id="${created.keyId}"][data-state="revoked"]`).waitFor({ state: 'visible' });
  assert.doesNotMatch(await keyItem(page, 'ci').textContent(), /Last used\s*Never/, 'the script\'s call is recorded');
  assert.equal(await page.locator(tid('api-key-reveal')).isVisible(), false);
  assert.deepEqual(await placesHolding(page, key), [], 'the key is nowhere in the reloaded page');

  // Signed out: no panel, nothing of it left in the page.
  await signOut(page);
  assert.equal(await page.locator(tid('api-keys-card')).isVisible(), false, 'no API keys panel signed out');
  assert.equal(await page.locator(`${tid('api-key-list')} li`).count(), 0, 'the list is cleared');

  assert.deepEqual(logs.filter((text) => text.includes(key) || text.includes('fsk_')), [], 'no key in the console log');
  assert.ok(authHeaders.length > 0);
  assert.deepEqual(authHeaders.filter((value) => value.includes('fsk_')), [], 'the page itself only ever sends ID tokens');
  await context.close();
});

test('a key still shown leaves the page at sign-out; without clipboard access Copy selects it', async () => {
  const { context, page } = await openConsole('api-keys-signout', { clipboard: false });
  // A browser without clipboard access (an insecure context, a refused permission).
  await page.addInitScript(() => {
    Object.defineProperty(navigator, 'clipboard', { value: undefined, configurable: true });
  });
  await page.reload({ waitUntil: 'domcontentloaded' });
  await signIn(page, 'david_dev@example.com');
  await waitForKeyList(page);
  const response = await createInPage(page, 'laptop script');
  assert.equal(response.status(), 201, await response.text());
  const { keyId } = await response.json();
  const key = await page.locator(tid('api-key-secret')).inputValue();
  assert.match(key, /^fsk_/);

  await page.evaluate(() => document.activeElement?.blur());
  await page.locator(tid('api-key-copy')).click();
  await page.waitForFunction((sel) => document.querySelector(sel)?.dataset.state, tid('api-key-copy-status'));
  assert.equal(await page.locator(tid('api-key-copy-status')).getAttribute('data-state'), 'selected');
  assert.match(await page.locator(tid('api-key-copy-status')).textContent(), /Ctrl\+C/);
  assert.deepEqual(await page.evaluate((sel) => {
    const input = document.querySelector(sel);
    return [document.activeElement === input, input.selectionStart, input.selectionEnd];
  }, tid('api-key-secret')), [true, 0, key.length], 'the whole key is selected');

  await page.locator(`${tid('api-key-item')}[data-key-id="${keyId}"]`).waitFor({ state: 'visible' });
  await signOut(page);
  assert.equal(await page.locator(tid('api-keys-card')).isVisible(), false);
  assert.deepEqual(await placesHolding(page, key), [], 'the key is gone from the page at sign-out');

  // Back in: the key is listed (still active), never shown again.
  await signIn(page, 'david_dev@example.com');
  await page.locator(`${tid('api-key-item')}[data-key-id="${keyId}"][data-state="active"]`).waitFor({ state: 'visible' });
  assert.equal(await page.locator(tid('api-key-reveal')).isVisible(), false);
  assert.deepEqual(await placesHolding(page, key), []);
  assert.equal((await creditsWith(key, 'david_dev')).status, 200, 'the key itself still works');
  await context.close();
});

test('an 11th active key is refused with the API\'s message in the panel', async () => {
  const email = 'lisa_marketing@example.com';
  const token = await idTokenOf(email);
  for (let i = 1; i <= MAX_ACTIVE_KEYS; i += 1) {
    const response = await fetch(`${FUNCTIONS_URL}/createApiKey`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: `bulk ${i}` }),
    });
    assert.equal(response.status, 201, `key ${i}: ${await response.text()}`);
  }

  const { context, page } = await openConsole('api-keys-limit');
  await signIn(page, email);
  await waitForKeyList(page);
  assert.equal(await page.locator(`${tid('api-key-item')}[data-state="active"]`).count(), MAX_ACTIVE_KEYS);
  const response = await createInPage(page, 'one too many');
  assert.equal(response.status(), 409, await response.text());
  const refusal = await response.json();
  assert.equal(refusal.error_type, 'too_many_api_keys');
  const error = page.locator(tid('api-key-error'));
  await error.waitFor({ state: 'visible' });
  assert.equal(await error.getAttribute('role'), 'alert');
  assert.ok(refusal.message && (await error.textContent()).includes(refusal.message), 'the API\'s 409 message is shown');
  assert.equal(await page.locator(tid('api-key-reveal')).isVisible(), false, 'no key shown');
  assert.equal(await page.locator(tid('session-bar')).isVisible(), true, 'still signed in (a 409 is not an auth failure)');
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'index-api-keys-limit.png'), fullPage: true });

  // Revoking one makes room again.
  page.once('dialog', (dialog) => dialog.accept());
  await keyItem(page, 'bulk 1').locator(tid('api-key-revoke')).click();
  await keyItem(page, 'bulk 1').and(page.locator('[data-state="revoked"]')).waitFor({ state: 'visible' });
  const again = await createInPage(page, 'one too many');
  assert.equal(again.status(), 201, await again.text());
  await page.locator(tid('api-key-reveal')).waitFor({ state: 'visible' });
  assert.equal(await error.textContent(), '', 'the error is cleared');
  await context.close();
});

test('scopes and an expiry are chosen in the form and shown in the list; a read-only key reads but cannot create or manage', async () => {
  const { context, page } = await openConsole('api-keys-scopes');
  await signIn(page, 'mike_creative@example.com');
  await waitForKeyList(page);
  const generate = page.locator(tid('api-key-scope-generate'));
  const read = page.locator(tid('api-key-scope-read'));
  const expires = page.locator(tid('api-key-expires'));
  assert.equal(await generate.isChecked(), true, 'generate is checked by default');
  assert.equal(await read.isChecked(), true, 'read is checked by default');
  assert.equal(await expires.inputValue(), '', 'no expiry by default');

  // No scope, or an expiry out of range: refused in the page, nothing sent.
  const creates = [];
  page.on('request', (r) => { if (r.url().includes('/api/createApiKey')) creates.push(r.url()); });
  await page.locator(tid('api-key-name')).fill('nothing');
  await generate.uncheck();
  await read.uncheck();
  await page.locator(tid('api-key-create')).click();
  assert.match(await page.locator(tid('api-key-error')).textContent(), /at least one scope/);
  await read.check();
  await expires.fill('400');
  await page.locator(tid('api-key-create')).click();
  assert.match(await page.locator(tid('api-key-error')).textContent(), /1 to 365/);
  assert.equal(await expires.getAttribute('aria-invalid'), 'true');
  assert.equal(creates.length, 0);

  // Read only, expiring in 7 days.
  await expires.fill('7');
  const response = await createInPage(page, 'reader');
  assert.equal(response.status(), 201, await response.text());
  assert.deepEqual(response.request().postDataJSON(), { name: 'reader', scopes: ['read'], expiresInDays: 7 });
  const created = await response.json();
  assert.deepEqual(created.scopes, ['read']);
  const days = (Date.parse(created.expiresAt) - Date.now()) / 86_400_000;
  assert.ok(days > 6.9 && days <= 7, `expires in 7 days (${created.expiresAt})`);
  const key = await page.locator(tid('api-key-secret')).inputValue();
  assert.equal(await generate.isChecked(), true, 'the form is back to its defaults');
  assert.equal(await read.isChecked(), true);
  assert.equal(await expires.inputValue(), '');

  const item = page.locator(`${tid('api-key-item')}[data-key-id="${created.keyId}"]`);
  await item.waitFor({ state: 'visible' });
  assert.equal(await item.getAttribute('data-scopes'), 'read');
  assert.equal(await item.locator(tid('api-key-scopes-shown')).textContent(), 'read');
  assert.notEqual(await item.locator(tid('api-key-expiry')).textContent(), 'Never');
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'index-api-key-scopes.png'), fullPage: true });

  // A script with it reads, but cannot create a request nor manage the account.
  assert.equal((await creditsWith(key, 'mike_creative')).status, 200);
  const refused = await fetch(`${FUNCTIONS_URL}/createGenerationRequest`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({
      userId: 'mike_creative', model: 'Model A', style: 'realistic', color: 'vibrant', size: '1024x1024', prompt: 'x',
    }),
  });
  const refusal = await refused.json();
  assert.equal(refused.status, 403, JSON.stringify(refusal));
  assert.equal(refusal.error, 'insufficient_scope');
  assert.match(refusal.message, /'generate' scope/);
  for (const fn of ['listApiKeys', 'getWebhookSecret']) {
    const managed = await fetch(`${FUNCTIONS_URL}/${fn}`, { headers: { Authorization: `Bearer ${key}` } });
    const body = await managed.json();
    assert.equal(managed.status, 403, `${fn}: ${JSON.stringify(body)}`);
    assert.equal(body.error, 'id_token_required');
  }

  // The defaults: both scopes, never expires.
  const plain = await createInPage(page, 'everything');
  assert.equal(plain.status(), 201, await plain.text());
  assert.deepEqual(plain.request().postDataJSON(), { name: 'everything', scopes: ['generate', 'read'] });
  const { keyId } = await plain.json();
  const listed = page.locator(`${tid('api-key-item')}[data-key-id="${keyId}"]`);
  await listed.waitFor({ state: 'visible' });
  assert.equal(await listed.getAttribute('data-scopes'), 'generate read');
  assert.equal(await listed.locator(tid('api-key-expiry')).textContent(), 'Never');
  await context.close();
});

test('no uncaught errors in the pages', () => {
  assert.deepEqual(pageErrors, []);
});
