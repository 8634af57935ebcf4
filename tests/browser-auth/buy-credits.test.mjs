// The console's "Buy credits" panel against the auth-required stack (see signed-in.test.mjs for
// how it runs): the packs of getCatalog, createCheckoutSession as the signed-in user (503 on
// the local stack, which has no STRIPE_SECRET_KEY), the redirect to Checkout, and the return
// from it while scripts/stripe_event.py delivers the purchase to stripeWebhook.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { BASE_URL, SCREENSHOT_DIR, launchBrowser, signIn, tid, waitForCredits } from '../lib/browser.mjs';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const PYTHON = path.join(REPO_ROOT, 'functions', 'venv', 'bin', 'python');
// havanur (5 credits when seeded) is no other browser test's user: her balance is this file's.
const BUYER = 'havanur';
const SEEDED_CREDITS = 5;

let browser;
const pageErrors = [];

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

async function openConsole(label, { beforeLoad, query = '' } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
  context.setDefaultTimeout(30_000);
  const page = await context.newPage();
  await beforeLoad?.(page);
  const violations = [];
  page.on('pageerror', (err) => pageErrors.push(`${label}: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy/i.test(msg.text())) violations.push(msg.text());
  });
  await page.goto(`${BASE_URL}/index.html${query}`, { waitUntil: 'domcontentloaded' });
  // A getCatalog handler may still be fetching when a test ends: drop it rather than let it fail
  // on the closed context after the test has passed.
  const close = async () => {
    await page.unrouteAll({ behavior: 'ignoreErrors' });
    await context.close();
  };
  return { page, violations, close };
}

/** getCatalog's creditPacks as the stack serves them ([] while the backend does not list any). */
async function servedPacks() {
  const response = await fetch(`${BASE_URL}/api/getCatalog`);
  assert.equal(response.status, 200);
  const packs = (await response.json()).creditPacks;
  return Array.isArray(packs) ? packs : [];
}

const PACKS = [
  { id: 'pack_50', name: 'Starter — 50 credits', credits: 50, amount: 500, currency: 'usd' },
  { id: 'pack_eur', name: 'Euro pack', credits: 100, amount: 1234, currency: 'eur' },
];
const CHECKOUT_URL = 'https://checkout.stripe.com/c/pay/cs_test_console#fragment';

/** Serve getCatalog with PACKS and createCheckoutSession with `session` (no Stripe, no backend). */
function servePacksAndSession(session) {
  return async (page) => {
    await page.route('**/api/getCatalog*', async (route) => {
      const catalog = await (await route.fetch()).json();
      await route.fulfill({ json: { ...catalog, creditPacks: PACKS } });
    });
    await page.route('**/api/createCheckoutSession*', (route) => route.fulfill({ json: session }));
    await page.route('https://checkout.stripe.com/**', (route) => route.fulfill({
      contentType: 'text/html', body: '<!doctype html><title>Checkout</title><p>Stripe Checkout stand-in</p>',
    }));
  };
}

test('signed out the packs show but cannot be bought; signed in, Buy goes to the Checkout Session URL', async () => {
  const { close, page, violations } = await openConsole('buy-redirect', {
    beforeLoad: servePacksAndSession({ success: true, url: CHECKOUT_URL, sessionId: 'cs_test_console' }),
  });
  const card = page.locator(tid('buy-credits-card'));
  await card.waitFor({ state: 'visible' });
  await page.locator(tid('pack-item')).nth(1).waitFor();
  assert.equal(await page.locator(tid('buy-credits-signin')).isVisible(), true);
  for (const button of await page.locator(tid('pack-buy')).all()) assert.equal(await button.isDisabled(), true);
  assert.deepEqual(await page.locator(tid('pack-price')).allTextContents(), ['$5.00', '€12.34']);
  assert.match(await page.locator(tid('pack-item')).first().textContent(), /Starter — 50 credits.*50 credits/);

  await signIn(page, `${BUYER}@example.com`);
  await page.locator(tid('buy-credits-signin')).waitFor({ state: 'hidden' });
  const buy = page.locator(`${tid('pack-item')}[data-pack-id="pack_50"] ${tid('pack-buy')}`);
  await page.waitForFunction((sel) => !document.querySelector(sel).disabled,
    `${tid('pack-item')}[data-pack-id="pack_50"] ${tid('pack-buy')}`);
  const [request] = await Promise.all([
    page.waitForRequest((r) => r.url().includes('/api/createCheckoutSession')),
    page.waitForURL(CHECKOUT_URL),
    buy.click(),
  ]);
  assert.equal(request.method(), 'POST');
  assert.deepEqual(request.postDataJSON(), { packId: 'pack_50' });
  assert.match(request.headers().authorization ?? '', /^Bearer \S+\.\S+\.\S*$/, 'the ID token is sent');
  assert.equal(await page.textContent('p'), 'Stripe Checkout stand-in');
  assert.deepEqual(violations, [], 'no CSP violation');
  await close();
});

test('an answer without an https URL is not followed', async () => {
  const { close, page } = await openConsole('buy-bad-url', {
    beforeLoad: servePacksAndSession({ success: true, url: 'javascript:alert(1)', sessionId: 'cs_test_x' }),
  });
  await signIn(page, `${BUYER}@example.com`);
  const buy = `${tid('pack-item')}[data-pack-id="pack_eur"] ${tid('pack-buy')}`;
  await page.waitForFunction((sel) => document.querySelector(sel)?.disabled === false, buy);
  await page.locator(buy).click();
  await page.waitForFunction((sel) => document.querySelector(sel)?.textContent.trim() !== '', tid('buy-credits-error'));
  assert.match(await page.locator(tid('buy-credits-error')).textContent(), /no usable URL/);
  assert.equal(new URL(page.url()).pathname, '/index.html');
  assert.equal(await page.locator(buy).isDisabled(), false, 'Buy works again');
  await close();
});

test('back from Checkout cancelled, a neutral note; the query string is dropped', async () => {
  const { close, page } = await openConsole('buy-cancelled', {
    beforeLoad: servePacksAndSession({}), query: '?checkout=cancelled',
  });
  await signIn(page, `${BUYER}@example.com`);
  const note = page.locator(tid('buy-credits-note'));
  await note.waitFor({ state: 'visible' });
  assert.equal(await note.textContent(), 'Checkout cancelled: nothing was charged.');
  assert.equal(new URL(page.url()).search, '', 'a reload does not say it again');
  await close();
});

// With the Stripe backend (getCatalog's creditPacks, createCheckoutSession, stripeWebhook).
test('on the local stack Buy says payments are not set up and names the script; the script\'s purchase shows up on return', async (t) => {
  const packs = await servedPacks();
  if (packs.length === 0) {
    t.skip('getCatalog lists no creditPacks: the Stripe backend is not on this branch');
    return;
  }
  const pack = packs.find((p) => p.id === 'pack_50') ?? packs[0];
  const { close, page, violations } = await openConsole('buy-local');
  await signIn(page, `${BUYER}@example.com`);
  await waitForCredits(page, SEEDED_CREDITS);
  await page.locator(tid('pack-item')).nth(packs.length - 1).waitFor();
  assert.deepEqual(await page.locator(tid('pack-item')).evaluateAll((items) => items.map((i) => i.dataset.packId)),
    packs.map((p) => p.id), 'every pack, in the catalog\'s order');

  const buy = `${tid('pack-item')}[data-pack-id="${pack.id}"] ${tid('pack-buy')}`;
  await page.waitForFunction((sel) => document.querySelector(sel)?.disabled === false, buy);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().includes('/api/createCheckoutSession')),
    page.locator(buy).click(),
  ]);
  assert.equal(response.status(), 503, `createCheckoutSession answered ${response.status()}: ${await response.text()}`);
  const answer = await response.json();
  assert.equal(answer.error_type, 'payments_not_configured');
  await page.waitForFunction((sel) => document.querySelector(sel)?.textContent.trim() !== '', tid('buy-credits-error'));
  assert.equal(await page.locator(tid('buy-credits-error')).textContent(), answer.message, 'the server\'s message');
  const command = await page.locator(tid('buy-credits-command')).textContent();
  assert.equal(command, `functions/venv/bin/python scripts/stripe_event.py checkout-completed --user ${BUYER} --pack ${pack.id}`);
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'index-buy-credits.png'), fullPage: true });

  // Back "from Checkout", then the payment's webhook arrives: the command the page showed.
  await page.goto(`${BASE_URL}/index.html?checkout=success`, { waitUntil: 'domcontentloaded' });
  const note = page.locator(tid('buy-credits-note'));
  await note.waitFor({ state: 'visible' });
  assert.equal(await note.textContent(), 'Payment received: your credits arrive in a moment.');
  await waitForCredits(page, SEEDED_CREDITS);
  const [, script, ...args] = command.split(' ');
  const { stdout } = await promisify(execFile)(PYTHON, [script, ...args], { cwd: REPO_ROOT });
  assert.match(stdout, /checkout\.session\.completed evt_test_\S+ -> HTTP 200/);
  await waitForCredits(page, SEEDED_CREDITS + pack.credits, 40_000);
  assert.deepEqual(violations, [], 'no CSP violation');
  await close();
});

test('no uncaught errors in the pages', () => {
  assert.deepEqual(pageErrors, []);
});
