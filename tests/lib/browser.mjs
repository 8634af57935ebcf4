// What the browser test suites share (tests/browser/, tests/browser-auth/): where the console
// is, the Chromium they drive, and helpers over the console's data-testid attributes.
import assert from 'node:assert/strict';
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
