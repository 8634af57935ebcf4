// What the browser test suites share (tests/browser/, tests/browser-auth/): where the console
// is, the Chromium they drive, and helpers over the console's data-testid attributes.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const BASE_URL = (process.env.UI_BASE_URL || 'http://127.0.0.1:8888').replace(/\/+$/, '');
const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR || path.join(REPO_ROOT, 'test-output', 'screenshots');
export const GENERATION_TIMEOUT_MS = Number(process.env.UI_GENERATION_TIMEOUT_MS || 90_000);

export const tid = (id) => `[data-testid="${id}"]`;

/** Headless Debian Chromium (no bundled browser), with the screenshot folder made. */
export async function launchBrowser() {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

export async function waitForCredits(page, expected, timeout = 20_000) {
  await page.waitForFunction(
    ([sel, want]) => document.querySelector(sel)?.textContent.trim() === String(want),
    [tid('credits-value'), expected],
    { timeout },
  ).catch(async () => {
    assert.fail(`credits-value should become ${expected}, is ${await page.locator(tid('credits-value')).textContent()}`);
  });
}

// The signed-in console (tests/browser-auth/): the Auth emulator accounts of scripts/data/seed_auth.py.
export const DEMO_PASSWORD = 'feraset-demo';

/** Sign in through the console's form; waits until the session bar names `email`. */
export async function signIn(page, email, password = DEMO_PASSWORD) {
  await submitCredentials(page, email, password, 'signin-button', 'sign-in');
}

/** Sign up through the console's form ("Create account"); waits as signIn does. */
export async function signUp(page, email, password) {
  await submitCredentials(page, email, password, 'signup-button', 'sign-up');
}

async function submitCredentials(page, email, password, button, what) {
  await page.waitForFunction((sel) => document.querySelector(sel)?.disabled === false, tid(button));
  await page.locator(tid('signin-email')).fill(email);
  await page.locator(tid('signin-password')).fill(password);
  await page.locator(tid(button)).click();
  await page.waitForFunction(
    ([sel, want]) => document.querySelector(sel)?.textContent === want,
    [tid('session-email'), email],
  ).catch(async () => {
    assert.fail(`${what} as ${email} did not complete: "${await page.locator(tid('signin-error')).textContent()}"`);
  });
}

/** Sign out through the session bar; waits until the sign-in form is back. */
export async function signOut(page) {
  await page.locator(tid('signout-button')).click();
  await page.locator(tid('signin-form')).waitFor({ state: 'visible' });
  await page.locator(tid('session-bar')).waitFor({ state: 'hidden' });
}

// The Firestore emulator's REST API, for state the API cannot produce on demand (emulators:exec
// sets FIRESTORE_EMULATOR_HOST; firebase.json's port otherwise).
const FIRESTORE_HOST = process.env.FIRESTORE_EMULATOR_HOST || '127.0.0.1:5561';
const FIRESTORE_DB = 'projects/feraset-imagen/databases/(default)';

/** A JS value as a Firestore REST value (the few kinds the fixtures use). */
function firestoreValue(value) {
  if (value === null) return { nullValue: null };
  if (value instanceof Date) return { timestampValue: value.toISOString() };
  if (Number.isInteger(value)) return { integerValue: String(value) };
  if (typeof value === 'string') return { stringValue: value };
  throw new Error(`no Firestore value for ${JSON.stringify(value)}`);
}

function firestoreFields(record) {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, firestoreValue(v)]));
}

/** POST one commit of `writes` to the Firestore emulator (its admin bypass: rules do not apply). */
async function commitWrites(writes, what) {
  const response = await fetch(`http://${FIRESTORE_HOST}/v1/${FIRESTORE_DB}/documents:commit`, {
    method: 'POST',
    headers: { Authorization: 'Bearer owner', 'Content-Type': 'application/json' }, // the emulator's admin bypass
    body: JSON.stringify({ writes }),
  });
  assert.equal(response.status, 200, `${what} failed: ${await response.text()}`);
}

/**
 * Store a user document of its own for a test that must not wait for (or race) a seed; fails if
 * `userId` exists already.
 */
export async function storeUser(userId, { credits = 10 } = {}) {
  await commitWrites([{
    update: {
      name: `${FIRESTORE_DB}/documents/users/${userId}`,
      fields: firestoreFields({
        name: userId, email: `${userId}@example.com`, current_credits: credits, initial_credits: credits,
        created_at: new Date(),
      }),
    },
    currentDocument: { exists: false },
  }], `storing user ${userId}`);
}

/** Remove a user stored by `storeUser`, so that the suites after this one see the seeded users only. */
export async function removeUser(userId) {
  await commitWrites([{ delete: `${FIRESTORE_DB}/documents/users/${userId}` }], `removing user ${userId}`);
}

/**
 * Store a `queued` request for `userId` straight in the Firestore emulator, as the API's charge
 * does (in one commit: the request, its deduction in the owner's ledger, the owner's balance and
 * in-flight count), but without a task: no worker ever picks it up, so it stays queued. The test
 * profile's worker finishes real requests at once, too soon to cancel them from the page.
 */
export async function storeQueuedRequest(userId, { model = 'Model A', size = '512x512', credits = 1 } = {}) {
  const id = randomUUID();
  const now = new Date();
  const doc = (relative) => `${FIRESTORE_DB}/documents/${relative}`;
  const writes = [
    {
      update: {
        name: doc(`generation_requests/${id}`),
        fields: firestoreFields({
          user_id: userId, model, style: 'anime', color: 'neon', size, prompt: 'A queued test request',
          status: 'queued', credits_deducted: credits, attempts: 0, created_at: now, updated_at: now,
          image_url: null, error_message: null,
        }),
      },
      currentDocument: { exists: false },
    },
    {
      update: {
        name: doc(`users/${userId}/transactions/deduction_${id}`),
        fields: firestoreFields({
          type: 'deduction', credits, generation_request_id: id, user_id: userId, timestamp: now,
          description: `Image generation (${model}, ${size})`,
        }),
      },
      currentDocument: { exists: false },
    },
    {
      update: { name: doc(`users/${userId}`), fields: {} },
      updateMask: { fieldPaths: [] },
      updateTransforms: [
        { fieldPath: 'current_credits', increment: { integerValue: String(-credits) } },
        { fieldPath: 'in_flight', increment: { integerValue: '1' } },
      ],
      currentDocument: { exists: true },
    },
  ];
  await commitWrites(writes, 'storing a queued request');
  return id;
}

