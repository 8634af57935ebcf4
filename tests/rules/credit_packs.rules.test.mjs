// Firestore security rules for what Stripe Checkout sells and what it booked: credit_packs/{id}
// is served only by getCatalog, and no client may write a purchase (or its take-back) onto a
// ledger, not even its own: money-in entries are written by the functions alone.
//
//   firebase emulators:exec --only firestore "npm run test:rules"
//
// A project id of its own, so that this file and the others in tests/rules/ (run in parallel by
// `node --test`) never clear each other's data.

import { describe, test } from 'node:test';

import { assertFails, assertSucceeds } from '@firebase/rules-unit-testing';
import {
  collection,
  deleteDoc,
  doc,
  getDoc,
  getDocs,
  query,
  setDoc,
  updateDoc,
  where,
} from 'firebase/firestore';
import { clientKinds, firstSnapshot, seededRulesEnvironment } from '../lib/rules.mjs';

const PROJECT_ID = 'demo-feraset-rules-credit-packs';

const ALICE = 'alice';
const BOB = 'bob';

const PACK = { name: 'Starter — 50 credits', credits: 50, amount: 500, currency: 'usd', is_active: true, sort_order: 0 };

function purchase(uid) {
  return {
    type: 'purchase', credits: 50, user_id: uid, description: 'Purchase: Starter',
    pack_id: 'pack_50', amount: 500, currency: 'usd', session_id: 'cs_test_1', payment_intent: 'pi_1',
  };
}

const testEnv = seededRulesEnvironment(PROJECT_ID, async (db) => {
  await setDoc(doc(db, 'credit_packs/pack_50'), PACK);
  for (const uid of [ALICE, BOB]) {
    await setDoc(doc(db, `users/${uid}`), { name: uid, current_credits: 50 });
  }
});

const clients = clientKinds(testEnv, ALICE, BOB);

test('the seeded pack exists (the denials below are not about missing data)', async () => {
  await testEnv().withSecurityRulesDisabled(async (ctx) => {
    const snap = await assertSucceeds(getDoc(doc(ctx.firestore(), 'credit_packs/pack_50')));
    if (snap.data().credits !== 50) throw new Error('unexpected seeded data');
  });
});

for (const [who, client] of Object.entries(clients)) {
  describe(`${who}`, () => {
    test('cannot read, list, query or listen to credit_packs', async () => {
      const db = client();
      await assertFails(getDoc(doc(db, 'credit_packs/pack_50')));
      await assertFails(getDocs(collection(db, 'credit_packs')));
      await assertFails(getDocs(query(collection(db, 'credit_packs'), where('is_active', '==', true))));
      await assertFails(firstSnapshot(collection(db, 'credit_packs')));
    });

    test('cannot create, change or delete a pack', async () => {
      const db = client();
      await assertFails(setDoc(doc(db, 'credit_packs/pack_free'), { ...PACK, amount: 1 }));
      await assertFails(updateDoc(doc(db, 'credit_packs/pack_50'), { amount: 1 }));
      await assertFails(deleteDoc(doc(db, 'credit_packs/pack_50')));
    });

    test('cannot book a purchase or its take-back on any ledger', async () => {
      const db = client();
      for (const uid of [ALICE, BOB]) {
        await assertFails(setDoc(doc(db, `users/${uid}/transactions/purchase_cs_test_1`), purchase(uid)));
        await assertFails(setDoc(
          doc(db, `users/${uid}/transactions/purchase_refund_cs_test_1_500`),
          { ...purchase(uid), type: 'purchase_refund' },
        ));
      }
    });
  });
}
