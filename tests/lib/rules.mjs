// Shared by the Firestore rules tests (tests/rules/): the emulator's address, a test environment
// loaded with firestore.rules and its hooks, the kinds of client each file checks, and a
// listener's first answer.
import { readFileSync } from 'node:fs';
import { after, before, beforeEach } from 'node:test';
import { fileURLToPath } from 'node:url';

import { initializeTestEnvironment } from '@firebase/rules-unit-testing';
import { onSnapshot } from 'firebase/firestore';
import { setLogLevel } from 'firebase/app';

const RULES_PATH = fileURLToPath(new URL('../../firestore.rules', import.meta.url));

export function emulatorAddress() {
  const raw = process.env.FIRESTORE_EMULATOR_HOST;
  if (!raw) {
    throw new Error(
      'FIRESTORE_EMULATOR_HOST is not set (expected host:port). Run the tests under ' +
        '`firebase emulators:exec --only firestore` or export it for a running emulator.',
    );
  }
  const idx = raw.lastIndexOf(':');
  const host = raw.slice(0, idx).replace(/^\[(.*)\]$/, '$1');
  const port = Number(raw.slice(idx + 1));
  if (idx <= 0 || !host || !Number.isInteger(port) || port <= 0) {
    throw new Error(`FIRESTORE_EMULATOR_HOST must be host:port, got "${raw}"`);
  }
  return { host, port };
}

/**
 * A rules test environment for `projectId`. Each file uses a project id of its own, so that the
 * files (run in parallel by `node --test`) never clear each other's data.
 */
export async function rulesEnvironment(projectId) {
  setLogLevel('error'); // the SDK logs every PERMISSION_DENIED as a warning
  return initializeTestEnvironment({
    projectId,
    firestore: { ...emulatorAddress(), rules: readFileSync(RULES_PATH, 'utf8') },
  });
}

/**
 * Registers a rules test file's hooks: before all its tests, an environment for `projectId` (see
 * rulesEnvironment); before each, its data cleared and `seed(db)` run with the rules off; after
 * all, the environment cleaned up. Returns a function giving the environment.
 */
export function seededRulesEnvironment(projectId, seed) {
  let env;
  before(async () => {
    env = await rulesEnvironment(projectId);
  });
  beforeEach(async () => {
    await env.clearFirestore();
    await env.withSecurityRulesDisabled(async (ctx) => seed(ctx.firestore()));
  });
  after(async () => {
    if (env) await env.cleanup();
  });
  return () => env;
}

/**
 * The clients a server-only collection must refuse, by name; each entry gives a client of the
 * environment `env()` (a function from seededRulesEnvironment).
 */
export function clientKinds(env, owner, other) {
  return {
    'an anonymous client': () => env().unauthenticatedContext().firestore(),
    [`the owner (${owner})`]: () => env().authenticatedContext(owner).firestore(),
    [`another user (${other})`]: () => env().authenticatedContext(other).firestore(),
    'an account with the admin claim': () =>
      env().authenticatedContext('ops', { admin: true }).firestore(),
  };
}

/** The first answer of a listener on `q` (rejects when the rules deny it). */
export function firstSnapshot(q) {
  return new Promise((resolve, reject) => {
    const unsubscribe = onSnapshot(
      q,
      (snap) => { unsubscribe(); resolve(snap); },
      (error) => reject(error),
    );
  });
}
