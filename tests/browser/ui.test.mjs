// Browser tests for the web UI (public/), run against the Hosting emulator:
//   UI_BASE_URL=http://127.0.0.1:8888 node --test tests/browser/
// Requires `playwright-core` (no bundled browsers) and Debian's chromium
// (CHROMIUM_PATH, default /usr/bin/chromium). Screenshots go to test-output/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  BASE_URL, GENERATION_TIMEOUT_MS, SCREENSHOT_DIR, launchBrowser, storeQueuedRequest, tid, waitForCredits,
} from '../lib/browser.mjs';

const ADMIN_TIMEOUT_MS = Number(process.env.UI_ADMIN_TIMEOUT_MS || 120_000);

let browser;
let context;
const pageErrors = [];

before(async () => {
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(30_000);
});

after(async () => {
  await context?.close();
  await browser?.close();
});

async function openPage(relative) {
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(`${relative}: ${err.message}`));
  page.on('dialog', (dialog) => dialog.accept()); // the seed button asks for confirmation
  await page.goto(`${BASE_URL}/${relative}`, { waitUntil: 'domcontentloaded' });
  return page;
}

async function readCredits(page) {
  const text = (await page.locator(tid('credits-value')).textContent())?.trim() ?? '';
  const value = Number.parseInt(text, 10);
  assert.ok(Number.isInteger(value), `credits-value should be a number, got "${text}"`);
  return value;
}

async function selectUser(page, userId) {
  const select = page.locator(tid('user-select'));
  await page.waitForSelector(`${tid('user-select')} option[value="${userId}"]`, { state: 'attached' });
  await select.selectOption(userId);
  // Wait for getUserCredits to land: the balance turns numeric.
  await page.waitForFunction(
    (sel) => /^\d+$/.test(document.querySelector(sel)?.textContent.trim() ?? ''),
    tid('credits-value'),
  );
}

/** Waits until the form is built from getCatalog and a user is picked (the submit button enables). */
async function waitForForm(page) {
  await page.waitForSelector(`${tid('field-size')} option[value="512x512"]`, { state: 'attached' });
  await page.waitForFunction((sel) => !document.querySelector(sel).disabled, tid('submit-button'));
}

const GARBAGE = ['[object Object]', 'NaN', 'undefined'];

/**
 * Every text a reader can see or hear: rendered text, SVG chart labels and tooltips, and the
 * aria-label/title/alt attributes. None may show a mis-read field ("[object Object]", "NaN",
 * "undefined"), which is what a renamed or retyped API field turns into.
 */
async function assertNoGarbageText(page, label) {
  const texts = await page.evaluate(() => {
    const out = [['body', document.body.innerText]];
    for (const node of document.querySelectorAll('svg text, svg title')) out.push(['svg', node.textContent]);
    for (const node of document.querySelectorAll('[aria-label], [title], [alt]')) {
      for (const attr of ['aria-label', 'title', 'alt']) {
        const value = node.getAttribute(attr);
        if (value) out.push([`@${attr}`, value]);
      }
    }
    for (const node of document.querySelectorAll('select option')) out.push(['option', node.textContent]);
    return out;
  });
  assert.ok(texts[0][1].trim().length > 0, `${label}: the page rendered no text`);
  const bad = texts.filter(([, text]) => GARBAGE.some((g) => text.includes(g)));
  assert.deepEqual(bad, [], `${label}: rendered text shows a mis-read field`);
}

async function seedViaButton(page) {
  await page.locator(tid('seed-button')).click();
  await page.waitForFunction(
    (sel) => ['success', 'error'].includes(document.querySelector(sel)?.dataset.state),
    tid('admin-result'),
    { timeout: ADMIN_TIMEOUT_MS },
  );
  const state = await page.locator(tid('admin-result')).getAttribute('data-state');
  assert.equal(state, 'success', `seeding failed: ${await page.locator(tid('admin-result')).textContent()}`);
}

test('seed, submit a 512x512 request as arda, watch it finish, balance follows the outcome', async () => {
  const page = await openPage('index.html');
  await seedViaButton(page);
  await selectUser(page, 'arda');
  await waitForForm(page);
  const before = await readCredits(page);

  // The form is built from getCatalog: every size option shows its credit cost.
  const sizeOptions = await page.locator(`${tid('field-size')} option`).allTextContents();
  assert.ok(sizeOptions.length >= 3, `expected the catalog sizes, got ${JSON.stringify(sizeOptions)}`);
  assert.ok(sizeOptions.every((t) => /\d+ credits?/.test(t)), `each size shows its cost: ${JSON.stringify(sizeOptions)}`);

  await page.locator(tid('field-model')).selectOption('Model A');
  await page.locator(tid('field-style')).selectOption('realistic');
  await page.locator(tid('field-color')).selectOption('vibrant');
  await page.locator(tid('field-size')).selectOption('512x512');
  await page.locator(tid('field-prompt')).fill('A lighthouse on a cliff at sunset');

  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().includes('/createGenerationRequest') && r.request().method() === 'POST'),
    page.locator(tid('submit-button')).click(),
  ]);
  assert.equal(response.status(), 202, `createGenerationRequest answered ${response.status()}: ${await response.text()}`);
  assert.ok(response.request().headers()['idempotency-key'], 'an Idempotency-Key header is sent');
  const created = await response.json();
  assert.equal(created.deductedCredits, 1);
  const id = created.generationRequestId;
  assert.ok(id, 'generationRequestId returned');

  const item = page.locator(`${tid('request-item')}[data-request-id="${id}"]`);
  await item.waitFor({ state: 'visible' });
  await page.waitForFunction(
    (sel) => ['completed', 'failed'].includes(document.querySelector(sel)?.dataset.status),
    `${tid('request-item')}[data-request-id="${id}"]`,
    { timeout: GENERATION_TIMEOUT_MS },
  );
  // The test profile makes Model A always succeed: the request completes with a real picture.
  assert.equal(await item.getAttribute('data-status'), 'completed');
  const image = item.locator(tid('request-image'));
  await image.scrollIntoViewIfNeeded(); // lazy-loaded: it loads once it is near the viewport
  await page.waitForFunction(
    (sel) => { const img = document.querySelector(sel); return img && img.complete && img.naturalWidth > 0; },
    `${tid('request-item')}[data-request-id="${id}"] ${tid('request-image')}`,
    { timeout: 20_000 },
  );
  const picture = await image.evaluate((img) => ({
    naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight, alt: img.alt, loading: img.loading, src: img.src,
  }));
  assert.deepEqual([picture.naturalWidth, picture.naturalHeight], [512, 512], 'the PNG has the requested size');
  assert.equal(picture.loading, 'lazy');
  assert.match(picture.alt, /A lighthouse on a cliff at sunset/);
  // Clicking the thumbnail opens the full image.
  const link = item.locator(tid('request-image-link'));
  assert.equal(await link.getAttribute('href'), picture.src);
  assert.equal(await link.getAttribute('target'), '_blank');
  await waitForCredits(page, before - 1);

  // The seeded history never ran a model: its completed requests say "No image stored", and no
  // image anywhere in the list is broken.
  await page.locator(`${tid('request-item')}[data-status="completed"] ${tid('request-no-image')}`).first()
    .waitFor({ state: 'visible' });
  assert.match(await page.locator(tid('request-no-image')).first().textContent(), /No image stored/);
  const broken = await page.evaluate(() => [...document.querySelectorAll('img')]
    .filter((img) => img.complete && img.naturalWidth === 0).map((img) => img.src));
  assert.deepEqual(broken, [], 'no broken image');
  // The history names the request each entry charged (the `generation_request_id` field).
  await page.locator(tid('tx-item')).filter({ hasText: id.slice(0, 8) }).first().waitFor({ state: 'visible' });
  await assertNoGarbageText(page, 'index.html');
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'index.png'), fullPage: true });
  await page.close();
});

test('cancelling a queued request as emma_photo refunds it and ends its polling', async () => {
  const id = await storeQueuedRequest('emma_photo');
  const page = await openPage('index.html');
  // Hold the cancellation until the busy button has been seen.
  let release;
  const gate = new Promise((resolve) => { release = resolve; });
  await page.route('**/api/cancelGenerationRequest', async (route) => { await gate; await route.continue(); });
  await selectUser(page, 'emma_photo');
  const before = await readCredits(page); // already charged for the stored request

  const itemSel = `${tid('request-item')}[data-request-id="${id}"]`;
  const item = page.locator(itemSel);
  await page.locator(`${itemSel}[data-status="queued"]`).waitFor({ state: 'visible' });
  // Polled, a queued request shows getGenerationStatus's queuePosition.
  await page.waitForFunction((sel) => /^Queued — position \d+$/.test(document.querySelector(sel)?.textContent),
    `${itemSel} ${tid('request-status')}`);
  const cancel = item.locator(tid('request-cancel'));
  await cancel.waitFor({ state: 'visible' });
  assert.equal((await cancel.textContent()).trim(), 'Cancel');
  assert.equal(await page.locator(`${tid('request-item')}[data-status="completed"] ${tid('request-cancel')}`).count(), 0,
    'finished requests have no Cancel button');

  const responded = page.waitForResponse((r) => r.url().includes('/cancelGenerationRequest') && r.request().method() === 'POST');
  await cancel.click();
  // Busy: disabled (and stays so through the item's re-renders by polling) until the answer lands.
  await page.waitForFunction((sel) => document.querySelector(sel)?.disabled === true, `${itemSel} ${tid('request-cancel')}`);
  release();
  const response = await responded;
  assert.equal(response.status(), 200, `cancelGenerationRequest answered ${response.status()}: ${await response.text()}`);
  assert.deepEqual(response.request().postDataJSON(), { generationRequestId: id });
  const body = await response.json();
  assert.equal(body.status, 'cancelled');
  assert.equal(body.refundedCredits, 1);

  await page.locator(`${itemSel}[data-status="cancelled"]`).waitFor({ state: 'visible' });
  // Its polling ended with the answer, not at the next poll's backoff.
  assert.equal(await page.evaluate((rid) => window.__feraset.state.pollers.has(rid), id), false, 'still polled');
  assert.match(await item.locator(tid('request-status')).textContent(), /cancelled/i);
  assert.equal(await item.locator(tid('request-cancel')).count(), 0, 'no Cancel button once cancelled');
  assert.equal(await item.locator('img').count(), 0, 'a cancelled request shows no image');
  assert.equal(await item.locator(tid('request-progress')).getAttribute('value'), '100');
  assert.match(await page.locator(tid('global-status')).textContent(),
    new RegExp(`Request ${id.slice(0, 8)}… cancelled; 1 credit refunded\\.`));
  await waitForCredits(page, before + 1);

  // The history shows the refund of that request, once.
  const refunds = page.locator(`${tid('tx-item')}[data-type="refund"]`).filter({ hasText: id.slice(0, 8) });
  await refunds.first().waitFor({ state: 'visible' });
  assert.equal(await refunds.count(), 1);
  assert.match(await refunds.first().textContent(), /\+1.*Cancelled by the user/s);

  await assertNoGarbageText(page, 'index.html (cancelled)');
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'index-cancelled.png'), fullPage: true });
  await page.close();
});

test('deleting a completed request as havanur removes its picture and prompt', async () => {
  // A finished request of havanur's, made through the API (Prefer: wait answers it finished).
  const made = await fetch(`${BASE_URL}/api/createGenerationRequest`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Prefer: 'wait=30' },
    body: JSON.stringify({
      userId: 'havanur', model: 'Model A', style: 'realistic', color: 'vibrant', size: '512x512',
      prompt: 'A request to delete',
    }),
  });
  const text = await made.text(); // a fetch body is read once
  assert.equal(made.status, 200, `createGenerationRequest answered ${made.status}: ${text}`);
  const created = JSON.parse(text);
  assert.equal(created.status, 'completed');
  const id = created.generationRequestId;

  const page = await openPage('index.html'); // accepts the confirmation dialog
  await selectUser(page, 'havanur');
  const itemSel = `${tid('request-item')}[data-request-id="${id}"]`;
  const item = page.locator(itemSel);
  await page.locator(`${itemSel}[data-status="completed"]`).waitFor({ state: 'visible' });
  await item.locator(tid('request-image')).waitFor({ state: 'attached' });
  assert.match(await item.textContent(), /A request to delete/);
  assert.equal(await page.locator(`${tid('request-item')}[data-status="queued"] ${tid('request-delete')}`).count(), 0,
    'requests in flight have no Delete button');

  const responded = page.waitForResponse((r) => r.url().includes('/deleteGenerationRequest') && r.request().method() === 'POST');
  await item.locator(tid('request-delete')).click();
  const response = await responded;
  assert.equal(response.status(), 200, `deleteGenerationRequest answered ${response.status()}: ${await response.text()}`);
  assert.deepEqual(response.request().postDataJSON(), { generationRequestId: id });
  assert.equal((await response.json()).deleted, true);

  await item.locator(tid('request-deleted')).waitFor({ state: 'visible' });
  assert.equal(await item.locator('img').count(), 0, 'a deleted request shows no picture');
  assert.doesNotMatch(await item.textContent(), /A request to delete/, 'nor its prompt');
  assert.equal(await item.locator(tid('request-delete')).count(), 0, 'no Delete button once deleted');
  assert.equal(await item.getAttribute('data-status'), 'completed', 'the record stays');
  // A fresh read of the list (another page) shows it deleted too.
  const again = await openPage('index.html');
  await selectUser(again, 'havanur');
  await again.locator(`${itemSel} ${tid('request-deleted')}`).waitFor({ state: 'visible' });
  await again.close();
  await page.close();
});

test('mike_creative (3 credits) asking for 1024x1792 sees the 402 message', async () => {
  const page = await openPage('index.html');
  await selectUser(page, 'mike_creative');
  await waitForForm(page);
  assert.equal(await readCredits(page), 3);

  await page.locator(tid('field-size')).selectOption('1024x1792');
  await page.locator(tid('field-prompt')).fill('A portrait of a fox in a library');
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().includes('/createGenerationRequest') && r.request().method() === 'POST'),
    page.locator(tid('submit-button')).click(),
  ]);
  assert.equal(response.status(), 402);

  const error = page.locator(tid('form-error'));
  await error.waitFor({ state: 'visible' });
  assert.match(await error.textContent(), /Insufficient credits\. Required: 4, Available: 3/);
  assert.equal(await readCredits(page), 3, 'balance unchanged after a rejected request');
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'index-insufficient-credits.png'), fullPage: true });
  await page.close();
});

test('running the weekly report and opening report.html lists anomalies', async () => {
  const page = await openPage('index.html');
  await page.locator(tid('report-button')).click();
  await page.waitForFunction(
    (sel) => ['success', 'error'].includes(document.querySelector(sel)?.dataset.state),
    tid('admin-result'),
    { timeout: ADMIN_TIMEOUT_MS },
  );
  assert.equal(await page.locator(tid('admin-result')).getAttribute('data-state'), 'success',
    `report failed: ${await page.locator(tid('admin-result')).textContent()}`);
  await assertNoGarbageText(page, 'index.html (report summary)');
  await page.close();

  const report = await openPage('report.html');
  await report.locator(tid('report-tiles')).locator('.tile').first().waitFor({ state: 'visible' });
  await report.locator(tid('anomaly-item')).first().waitFor({ state: 'visible' });
  const count = await report.locator(tid('anomaly-item')).count();
  assert.ok(count >= 1, `expected at least one anomaly, got ${count}`);
  const firstType = (await report.locator(`${tid('anomaly-item')} ${tid('anomaly-type')}`).first().textContent()).trim();
  assert.ok(firstType.length > 0, 'anomaly type is shown');
  assert.ok(await report.locator(`${tid('report-charts')} svg`).count() >= 1, 'at least one chart is drawn');
  // Style/color/size charts draw the per-id detail (`*_stats`): bars carry a failure rate.
  for (const chart of ['chart-style', 'chart-color', 'chart-size']) {
    const values = await report.locator(`${tid(chart)} .bar-value`).allTextContents();
    assert.ok(values.length >= 1, `${chart} has bars`);
    assert.ok(values.every((v) => /^\d[\d,.]* · \d[\d,.]*% fail$/.test(v)), `${chart} values: ${JSON.stringify(values)}`);
  }
  await assertNoGarbageText(report, 'report.html');
  await report.screenshot({ path: path.join(SCREENSHOT_DIR, 'report.png'), fullPage: true });

  // Dark mode rendering of both pages, for visual review.
  await report.emulateMedia({ colorScheme: 'dark' });
  await report.screenshot({ path: path.join(SCREENSHOT_DIR, 'report-dark.png'), fullPage: true });
  await report.close();

  // The console page over the seeded history.
  const consolePage = await openPage('index.html');
  await selectUser(consolePage, 'bot_spammer');
  await consolePage.locator(tid('tx-item')).first().waitFor({ state: 'visible' });
  await assertNoGarbageText(consolePage, 'index.html (seeded history)');
  await consolePage.close();
});

test('the theme follows the system until the user picks one; the pick holds on both pages', async () => {
  const DARK_BG = 'rgb(17, 19, 26)';
  const LIGHT_BG = 'rgb(244, 245, 248)';
  const themed = await browser.newContext({ colorScheme: 'dark' }); // its own localStorage
  try {
    const page = await themed.newPage();
    page.on('pageerror', (err) => pageErrors.push(`theme: ${err.message}`));
    const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const toggle = page.locator(tid('theme-toggle'));

    await page.goto(`${BASE_URL}/report.html`, { waitUntil: 'domcontentloaded' });
    await page.waitForFunction((sel) => document.querySelector(sel)?.textContent === 'Light mode', tid('theme-toggle'));
    assert.equal(await background(), DARK_BG, 'dark system preference, no pick: dark');
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme ?? null), null);
    await page.emulateMedia({ colorScheme: 'light' });
    assert.equal(await background(), LIGHT_BG, 'no pick: follows the system when it changes');
    // The button follows on the media query's change event, which arrives asynchronously.
    await page.waitForFunction((sel) => document.querySelector(sel)?.textContent === 'Dark mode', tid('theme-toggle'));

    await toggle.click(); // pick dark while the system is light
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
    assert.equal(await background(), DARK_BG);
    assert.equal(await toggle.getAttribute('aria-pressed'), 'true');

    await page.goto(`${BASE_URL}/index.html`, { waitUntil: 'domcontentloaded' });
    await page.waitForFunction(() => document.documentElement.dataset.theme === 'dark');
    assert.equal(await background(), DARK_BG, 'the pick is remembered on the other page');
    await toggle.click(); // pick light, then the system turns dark: the pick wins
    await page.emulateMedia({ colorScheme: 'dark' });
    assert.equal(await background(), LIGHT_BG);
    assert.equal(await toggle.textContent(), 'Dark mode');
  } finally {
    await themed.close();
  }
});

test('no uncaught errors in the pages', () => {
  assert.deepEqual(pageErrors, []);
});
