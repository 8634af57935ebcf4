// The browser side of "safe to deploy": Hosting's security headers, the base URL setting
// (https, or http only for loopback) and the seed confirmation. Run like ui.test.mjs:
//   UI_BASE_URL=http://127.0.0.1:8888 node --test tests/browser/
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const BASE_URL = (process.env.UI_BASE_URL || 'http://127.0.0.1:8888').replace(/\/+$/, '');
const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const EMULATOR_FUNCTIONS = 'http://127.0.0.1:5551/feraset-imagen/us-central1';
const tid = (id) => `[data-testid="${id}"]`;

let browser;
let context;

before(async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  context = await browser.newContext();
  context.setDefaultTimeout(30_000);
});

after(async () => {
  await context?.close();
  await browser?.close();
});

const SIGN_IN_SOURCES = [
  'http://127.0.0.1:9099', 'http://127.0.0.1:5561', 'https://identitytoolkit.googleapis.com',
  'https://securetoken.googleapis.com', 'https://firestore.googleapis.com',
];

/** The Content-Security-Policy directives, name -> sources. */
function directives(csp) {
  return Object.fromEntries(csp.split(';').map((d) => d.trim()).filter(Boolean)
    .map((d) => { const [name, ...sources] = d.split(/\s+/); return [name, sources]; }));
}

for (const path of ['/', '/index.html', '/report.html', '/assets/app.js']) {
  test(`Hosting sends the security headers on ${path}`, async () => {
    const response = await fetch(`${BASE_URL}${path}`);
    assert.equal(response.status, 200);
    const csp = response.headers.get('content-security-policy');
    assert.ok(csp, 'Content-Security-Policy header missing');
    const policy = directives(csp);
    assert.deepEqual(policy['frame-ancestors'], ["'none'"]);
    assert.deepEqual(policy['default-src'], ["'self'"]);
    assert.deepEqual(policy['script-src'], ["'self'"]);
    // Only the API origins the console calls: same origin, the project's hosts, the emulator.
    assert.ok(policy['connect-src'].includes("'self'"));
    for (const source of policy['connect-src']) {
      assert.ok(!source.includes('*') && source !== 'https:' && source !== 'http:', `broad connect-src ${source}`);
    }
    assert.ok(policy['connect-src'].includes('http://127.0.0.1:5551'));
    // Sign-in and the live request list: Auth and Firestore, on the emulators and in production.
    for (const source of SIGN_IN_SOURCES) {
      assert.ok(policy['connect-src'].includes(source), `connect-src lacks ${source}`);
    }
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(response.headers.get('x-frame-options'), 'DENY');
    assert.ok(response.headers.get('referrer-policy'), 'Referrer-Policy header missing');
  });
}

test('the console page\'s CSP meta tag allows the same connections as Hosting\'s header', async () => {
  const response = await fetch(`${BASE_URL}/index.html`);
  const header = directives(response.headers.get('content-security-policy'));
  const page = await context.newPage();
  await page.goto(`${BASE_URL}/index.html`, { waitUntil: 'domcontentloaded' });
  const meta = directives(await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content'));
  await page.close();
  // Both policies apply: a source missing from either one is blocked.
  assert.deepEqual([...meta['connect-src']].sort(), [...header['connect-src']].sort());
  for (const source of SIGN_IN_SOURCES) assert.ok(meta['connect-src'].includes(source), `meta connect-src lacks ${source}`);
});

async function openConsole() {
  const page = await context.newPage();
  await page.goto(`${BASE_URL}/index.html`, { waitUntil: 'domcontentloaded' });
  await page.locator('#env-panel summary').click();
  return page;
}

async function saveBaseUrl(page, url) {
  await page.locator(tid('env-production')).check();
  await page.locator(tid('env-base-url')).fill(url);
  await page.getByRole('button', { name: 'Save environment' }).click();
}

const storedBase = (page) => page.evaluate(() => localStorage.getItem('feraset.baseUrl'));

test('the base URL accepts https and loopback http, and refuses plain http elsewhere', async () => {
  const page = await openConsole();
  await saveBaseUrl(page, EMULATOR_FUNCTIONS); // loopback over http: accepted
  assert.equal(await page.locator(tid('env-error')).textContent(), '');
  assert.equal(await storedBase(page), EMULATOR_FUNCTIONS);
  assert.match(await page.locator(tid('env-summary')).textContent(), /127\.0\.0\.1:5551/);

  for (const bad of ['http://feraset-imagen.web.app/api', 'http://127.0.0.1.example.com/api',
    'ftp://example.com/api', 'https://user:pass@example.com/api', 'not a url']) {
    await saveBaseUrl(page, bad);
    const error = await page.locator(tid('env-error')).textContent();
    assert.match(error, /https/, `no clear error for ${bad}`);
    assert.match(error, /previous setting is kept/);
    assert.equal(await storedBase(page), EMULATOR_FUNCTIONS, `${bad} replaced the saved URL`);
    assert.match(await page.locator(tid('env-summary')).textContent(), /127\.0\.0\.1:5551/);
  }

  for (const good of ['https://feraset-imagen.web.app/api', 'http://localhost:5551/feraset-imagen/us-central1',
    'http://[::1]:5551/feraset-imagen/us-central1']) {
    await saveBaseUrl(page, good);
    assert.equal(await page.locator(tid('env-error')).textContent(), '');
    assert.equal(await storedBase(page), good);
  }
  await page.locator(tid('env-local')).check();
  await page.getByRole('button', { name: 'Save environment' }).click();
  await page.close();
});

test('the seed confirmation says exactly what seeding does, and cancelling changes nothing', async () => {
  const page = await openConsole();
  let message = null;
  page.on('dialog', async (dialog) => { message = dialog.message(); await dialog.dismiss(); });
  let seedCalls = 0;
  page.on('request', (request) => { if (request.url().includes('seed_database')) seedCalls += 1; });
  await page.locator(tid('seed-button')).click();
  await page.waitForFunction(() => true);
  assert.ok(message, 'no confirmation shown');
  assert.match(message, /13 seed users/);
  assert.match(message, /Nothing else is deleted or changed/);
  assert.match(message, /SEED_ENABLED/);
  assert.equal(seedCalls, 0);
  await page.close();
});
