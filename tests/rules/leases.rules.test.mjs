// Firestore security rules for the per-user slots: wait_leases/{uid}_{slot} (one lease per
// `Prefer: wait` call waiting right now) and stream_leases/{uid}_{slot} (one per status stream
// open right now) are server-only. No client, not even the lease's user, may read, list, query,
// listen to, create, change or delete a lease: a client that could write here could free its
// slots (and wait or stream without bound) or fill another user's.
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
  query,
  setDoc,
  updateDoc,
  where,
} from 'firebase/firestore';
import { clientKinds, firstSnapshot, seededRulesEnvironment } from '../lib/rules.mjs';

const PROJECT_ID = 'demo-feraset-rules-leases';
// Both kinds of per-user slot: `Prefer: wait` calls and open status streams.
const COLLECTIONS = ['wait_leases', 'stream_leases'];

const ALICE = 'alice';
const BOB = 'bob';

const acquired = Timestamp.fromDate(new Date('2025-08-04T12:00:00Z'));
const expires = Timestamp.fromDate(new Date('2025-08-04T12:02:00Z'));

function lease(uid, slot) {
  return { user_id: uid, slot, acquired_at: acquired, expires_at: expires };
}

const testEnv = seededRulesEnvironment(PROJECT_ID, async (db) => {
  for (const leases of COLLECTIONS) {
    for (const uid of [ALICE, BOB]) {
      await setDoc(doc(db, `${leases}/${uid}_0`), lease(uid, 0));
    }
  }
});

const clients = clientKinds(testEnv, ALICE, BOB);

for (const leases of COLLECTIONS) {
  describe(leases, () => {
    test('the seeded lease exists (the denials below are not about missing data)', async () => {
      await testEnv().withSecurityRulesDisabled(async (ctx) => {
        const snap = await assertSucceeds(getDoc(doc(ctx.firestore(), `${leases}/${ALICE}_0`)));
        if (snap.data().user_id !== ALICE) throw new Error('unexpected seeded data');
      });
    });

    for (const [who, client] of Object.entries(clients)) {
      describe(`${who}`, () => {
        test('cannot read a lease, even its own', async () => {
          const db = client();
          await assertFails(getDoc(doc(db, `${leases}/${ALICE}_0`)));
          await assertFails(getDoc(doc(db, `${leases}/${BOB}_0`)));
          await assertFails(getDoc(doc(db, `${leases}/${ALICE}_3`)));
        });

        test(`cannot list, query or listen to ${leases}`, async () => {
          const db = client();
          await assertFails(getDocs(collection(db, leases)));
          await assertFails(getDocs(query(collection(db, leases), where('user_id', '==', ALICE))));
          await assertFails(firstSnapshot(collection(db, leases)));
        });

        test('cannot take, change or free a slot', async () => {
          const db = client();
          await assertFails(setDoc(doc(db, `${leases}/${ALICE}_1`), lease(ALICE, 1)));
          await assertFails(setDoc(doc(db, `${leases}/${BOB}_1`), lease(BOB, 1)));
          await assertFails(updateDoc(doc(db, `${leases}/${BOB}_0`), { expires_at: acquired }));
          await assertFails(deleteDoc(doc(db, `${leases}/${ALICE}_0`)));
          await assertFails(deleteDoc(doc(db, `${leases}/${BOB}_0`)));
        });
      });
    }
  });
}
