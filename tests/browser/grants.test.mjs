// The admin tools' grant form in the open emulator mode: a grant moves the acting user's balance
// and shows in its history; a retry of a submission whose answer was lost credits nothing more.
// Run like ui.test.mjs:  UI_BASE_URL=http://127.0.0.1:8888 node --test tests/browser/
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { BASE_URL, launchBrowser, removeUser, storeUser, tid, waitForCredits } from '../lib/browser.mjs';

let browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

async function openAs(userId) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(30_000);
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(`${BASE_URL}/index.html`, { waitUntil: 'domcontentloaded' });
  await page.waitForSelector(`${tid('user-select')} option[value="${userId}"]`, { state: 'attached' });
  await page.locator(tid('user-select')).selectOption(userId);
  await waitForCredits(page, 7);
  return { context, page, pageErrors };
}

async function submitGrant(page, { userId, credits, reason }) {
  await page.locator(tid('grant-user')).fill(userId);
  await page.locator(tid('grant-credits')).fill(String(credits));
  await page.locator(tid('grant-reason')).fill(reason);
  await page.evaluate((sel) => { delete document.querySelector(sel).dataset.state; }, tid('grant-result'));
  await page.locator(tid('grant-submit')).click();
  await page.waitForFunction(
    (sel) => ['success', 'error'].includes(document.querySelector(sel)?.dataset.state),
    tid('grant-result'),
  );
  return page.locator(tid('grant-result'));
}

test('an admin grant moves the balance once, also when a lost answer is retried', async () => {
  // A user of its own: the other files of this suite run meanwhile and seed when they choose.
  const userId = `grant_ui_${randomUUID().slice(0, 8)}`;
  await storeUser(userId, { credits: 7 });
  const { context, page, pageErrors } = await openAs(userId);
  try {
    const result = await submitGrant(page, { userId, credits: 25, reason: 'Browser test goodwill' });
    assert.equal(await result.getAttribute('data-state'), 'success', await result.textContent());
    assert.match(await result.textContent(), /Granted 25 credits/);
    await waitForCredits(page, 32);
    const entry = page.locator(`${tid('tx-item')}[data-type="grant"]`);
    await entry.first().waitFor({ state: 'visible' });
    assert.match(await entry.first().textContent(), /\+25.*Credit grant: Browser test goodwill/s);

    // The next grant lands, but its answer never reaches the page (a dropped connection).
    const sent = [];
    await page.route('**/grantCredits', async (route) => {
      sent.push(JSON.parse(route.request().postData()));
      if (sent.length === 1) {
        await route.fetch(); // the server books it...
        await route.abort('connectionreset'); // ...and the page hears nothing
      } else {
        await route.continue();
      }
    });
    const lost = await submitGrant(page, { userId, credits: 10, reason: 'Retried' });
    assert.equal(await lost.getAttribute('data-state'), 'error');
    assert.match(await lost.textContent(), /Grant failed/);
    const retried = await submitGrant(page, { userId, credits: 10, reason: 'Retried' });
    assert.equal(await retried.getAttribute('data-state'), 'success', await retried.textContent());
    assert.match(await retried.textContent(), /Already granted/);
    assert.equal(sent.length, 2);
    assert.equal(sent[0].grantId, sent[1].grantId, 'a retry of the same submission keeps its grantId');
    assert.match(sent[0].grantId, /^[A-Za-z0-9_-]{8,64}$/);
    assert.equal(await page.locator(tid('grant-balance')).textContent(), '42');

    // A new submission is a new grant.
    await page.unroute('**/grantCredits');
    const again = await submitGrant(page, { userId, credits: 10, reason: 'Retried' });
    assert.match(await again.textContent(), /Granted 10 credits/);
    await waitForCredits(page, 52);

    // An unknown user: the API's message, nothing granted.
    const unknown = await submitGrant(page, { userId: `${userId}_nobody`, credits: 5, reason: 'x' });
    assert.equal(await unknown.getAttribute('data-state'), 'error');
    assert.match(await unknown.textContent(), /No account for uid/);
    assert.deepEqual(pageErrors, []);
  } finally {
    await context.close();
    await removeUser(userId); // the Postman run after this suite counts the seeded users
  }
});
