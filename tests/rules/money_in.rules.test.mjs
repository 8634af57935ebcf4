// Firestore security rules for the credits that come in: ledger entries of the types grant,
// welcome, purchase and purchase_refund are readable by their owner like every other transaction,
// and no client (not even the owner, nor an account with the admin claim) may create, change or
// delete one; grants/{grantId}, the registry of operator grants, is server-only.
//
//   firebase emulators:exec --only firestore "npm run test:rules"
//
// A project id of its own, so that this file and the others in tests/rules/ (run in parallel by
// `node --test`) never clear each other's data.

import { describe, test } from 'node:test';

import {
  assertFails,
  assertSucceeds,
} from '@firebase/rules-unit-testing';
import {
  Timestamp,
  collection,
  deleteDoc,
  doc,
  getDoc,
  getDocs,
  setDoc,
  updateDoc,
} from 'firebase/firestore';
import { clientKinds, seededRulesEnvironment } from '../lib/rules.mjs';

const PROJECT_ID = 'demo-feraset-rules-money-in';

const ALICE = 'alice';
const BOB = 'bob';
const at = Timestamp.fromDate(new Date('2026-03-02T09:30:00Z'));

function entry(uid, type, credits, extra = {}) {
  return { type, credits, generation_request_id: null, user_id: uid, timestamp: at, description: `${type}`, ...extra };
}

// One entry of each money-in type in Alice's ledger, as the functions book them.
const ENTRIES = {
  grant_ops0001: entry(ALICE, 'grant', 25, { granted_by: 'admin_key', reason: 'goodwill', description: 'Credit grant: goodwill' }),
  [`welcome_${ALICE}`]: entry(ALICE, 'welcome', 10),
  purchase_cs_test_1: entry(ALICE, 'purchase', 200, { amount: 1999, currency: 'usd', pack_id: 'pack_200', session_id: 'cs_test_1' }),
  purchase_refund_cs_test_1_999: entry(ALICE, 'purchase_refund', 100, { session_id: 'cs_test_1' }),
};
const GRANT = { user_id: ALICE, credits: 25, reason: 'goodwill', granted_by: 'admin_key', created_at: at };

const testEnv = seededRulesEnvironment(PROJECT_ID, async (db) => {
  await setDoc(doc(db, `users/${ALICE}`), { name: 'Alice', current_credits: 135, initial_credits: 0 });
  await setDoc(doc(db, `users/${BOB}`), { name: 'Bob', current_credits: 5, initial_credits: 5 });
  for (const [id, data] of Object.entries(ENTRIES)) {
    await setDoc(doc(db, `users/${ALICE}/transactions/${id}`), data);
  }
  await setDoc(doc(db, 'grants/ops0001'), GRANT);
});

const clients = clientKinds(testEnv, ALICE, BOB);
const asAlice = () => testEnv().authenticatedContext(ALICE).firestore();

describe('the owner reads its money-in entries like any transaction', () => {
  for (const id of Object.keys(ENTRIES)) {
    test(`gets ${id}`, async () => {
      const snap = await assertSucceeds(getDoc(doc(asAlice(), `users/${ALICE}/transactions/${id}`)));
      if (snap.data().type !== ENTRIES[id].type) throw new Error('unexpected seeded data');
    });
  }

  test('lists them in its ledger', async () => {
    const snap = await assertSucceeds(getDocs(collection(asAlice(), `users/${ALICE}/transactions`)));
    const ids = snap.docs.map((d) => d.id).sort();
    if (ids.join(',') !== Object.keys(ENTRIES).sort().join(',')) throw new Error(`unexpected ids ${ids}`);
  });
});

for (const [who, client] of Object.entries(clients)) {
  describe(who, () => {
    test('cannot create a money-in entry in Alice\'s ledger', async () => {
      const db = client();
      for (const [id, data] of Object.entries({
        grant_self_made: entry(ALICE, 'grant', 1_000_000, { granted_by: ALICE, reason: 'me' }),
        [`welcome_${ALICE}_again`]: entry(ALICE, 'welcome', 10),
        purchase_cs_forged: entry(ALICE, 'purchase', 1000, { amount: 1, currency: 'usd' }),
        purchase_refund_cs_forged: entry(ALICE, 'purchase_refund', 1),
      })) {
        await assertFails(setDoc(doc(db, `users/${ALICE}/transactions/${id}`), data));
      }
    });

    test('cannot change or delete one', async () => {
      const db = client();
      for (const id of Object.keys(ENTRIES)) {
        const ref = doc(db, `users/${ALICE}/transactions/${id}`);
        await assertFails(updateDoc(ref, { credits: 1_000_000 }));
        await assertFails(setDoc(ref, { type: 'grant' }, { merge: true }));
        await assertFails(deleteDoc(ref));
      }
    });

    test('cannot read, list or write grants/{grantId}', async () => {
      const db = client();
      const ref = doc(db, 'grants/ops0001');
      await assertFails(getDoc(ref));
      await assertFails(getDocs(collection(db, 'grants')));
      await assertFails(setDoc(doc(db, 'grants/new-grant-1'), GRANT));
      await assertFails(updateDoc(ref, { credits: 1_000_000 }));
      await assertFails(deleteDoc(ref));
    });
  });
}

describe('another user and an anonymous client', () => {
  for (const [who, db] of [['bob', () => testEnv().authenticatedContext(BOB).firestore()],
    ['anonymous', () => testEnv().unauthenticatedContext().firestore()]]) {
    test(`${who} cannot read Alice's money-in entries`, async () => {
      for (const id of Object.keys(ENTRIES)) {
        await assertFails(getDoc(doc(db(), `users/${ALICE}/transactions/${id}`)));
      }
      await assertFails(getDocs(collection(db(), `users/${ALICE}/transactions`)));
    });
  }
});
