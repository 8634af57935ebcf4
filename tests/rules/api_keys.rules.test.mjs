// Firestore security rules for personal API keys: api_keys (one document per key, named by the
// key's SHA-256), api_key_owners/{uid}/slots (one document per active key) and
// api_key_owners/{uid}/creations (one per key created in the last 30 days), which bound their
// numbers, are server-only. No client, not even the key's owner, may read, list, query, create,
// change or delete them.
//
//   firebase emulators:exec --only firestore "npm run test:rules"
//
// A project id of its own, so that this file and firestore.rules.test.mjs (run in parallel by
// `node --test`) never clear each other's data.

import { describe, test } from 'node:test';

import {
  assertFails,
  assertSucceeds,
} from '@firebase/rules-unit-testing';
import {
  Timestamp,
  collection,
  collectionGroup,
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

const PROJECT_ID = 'demo-feraset-rules-api-keys';

const ALICE = 'alice';
const BOB = 'bob';
const ALICE_KEY = `api_keys/${'a'.repeat(64)}`;
const BOB_KEY = `api_keys/${'b'.repeat(64)}`;
const ALICE_SLOT = `api_key_owners/${ALICE}/slots/0`;
const BOB_SLOT = `api_key_owners/${BOB}/slots/0`;
const ALICE_CREATION = `api_key_owners/${ALICE}/creations/0`;

const now = Timestamp.fromDate(new Date('2025-08-04T12:00:00Z'));

function keyDoc(uid) {
  return {
    key_id: `key_${uid}0000000000000`,
    user_id: uid,
    name: `${uid}'s laptop`,
    prefix: 'fsk_AbCdEf\u2026',
    created_at: now,
    last_used_at: null,
    revoked_at: null,
  };
}

const testEnv = seededRulesEnvironment(PROJECT_ID, async (db) => {
  await setDoc(doc(db, ALICE_KEY), keyDoc(ALICE));
  await setDoc(doc(db, BOB_KEY), keyDoc(BOB));
  await setDoc(doc(db, ALICE_SLOT), { key_id: keyDoc(ALICE).key_id, created_at: now });
  await setDoc(doc(db, BOB_SLOT), { key_id: keyDoc(BOB).key_id, created_at: now });
  await setDoc(doc(db, ALICE_CREATION), { key_id: keyDoc(ALICE).key_id, created_at: now });
});

const clients = clientKinds(testEnv, ALICE, BOB);

test('the seeded documents exist (the denials below are not about missing data)', async () => {
  await testEnv().withSecurityRulesDisabled(async (ctx) => {
    const snap = await assertSucceeds(getDoc(doc(ctx.firestore(), ALICE_KEY)));
    if (snap.data().user_id !== ALICE) throw new Error('unexpected seeded data');
  });
});

for (const [who, client] of Object.entries(clients)) {
  describe(`${who}`, () => {
    test('cannot read a key document, even its own', async () => {
      const db = client();
      await assertFails(getDoc(doc(db, ALICE_KEY)));
      await assertFails(getDoc(doc(db, BOB_KEY)));
    });

    test('cannot list or query api_keys, even filtered to its own uid', async () => {
      const db = client();
      await assertFails(getDocs(collection(db, 'api_keys')));
      await assertFails(getDocs(query(collection(db, 'api_keys'), where('user_id', '==', ALICE))));
      await assertFails(firstSnapshot(query(collection(db, 'api_keys'), where('user_id', '==', ALICE))));
    });

    test('cannot create, change, revoke or delete a key', async () => {
      const db = client();
      await assertFails(setDoc(doc(db, `api_keys/${'c'.repeat(64)}`), keyDoc(ALICE)));
      await assertFails(updateDoc(doc(db, ALICE_KEY), { revoked_at: null, user_id: BOB }));
      await assertFails(setDoc(doc(db, ALICE_KEY), { revoked_at: now }, { merge: true }));
      await assertFails(deleteDoc(doc(db, ALICE_KEY)));
    });

    test('cannot read, take or free a slot of active keys', async () => {
      const db = client();
      await assertFails(getDoc(doc(db, ALICE_SLOT)));
      await assertFails(getDoc(doc(db, BOB_SLOT)));
      await assertFails(getDocs(collection(db, `api_key_owners/${ALICE}/slots`)));
      await assertFails(getDocs(collectionGroup(db, 'slots')));
      await assertFails(getDoc(doc(db, `api_key_owners/${ALICE}`)));
      await assertFails(getDocs(collection(db, 'api_key_owners')));
      await assertFails(setDoc(doc(db, `api_key_owners/${ALICE}/slots/1`), { key_id: 'key_x' }));
      await assertFails(updateDoc(doc(db, ALICE_SLOT), { key_id: 'key_x' }));
      await assertFails(deleteDoc(doc(db, ALICE_SLOT))); // freeing a slot would lift the limit
      await assertFails(setDoc(doc(db, `api_key_owners/${ALICE}`), { x: 1 }));
    });

    test('cannot read, take or free a creation slot (the bound on keys created)', async () => {
      const db = client();
      await assertFails(getDoc(doc(db, ALICE_CREATION)));
      await assertFails(getDocs(collection(db, `api_key_owners/${ALICE}/creations`)));
      await assertFails(getDocs(collectionGroup(db, 'creations')));
      await assertFails(setDoc(doc(db, `api_key_owners/${ALICE}/creations/1`), { key_id: 'k' }));
      await assertFails(updateDoc(doc(db, ALICE_CREATION), { created_at: Timestamp.fromMillis(0) }));
      await assertFails(deleteDoc(doc(db, ALICE_CREATION)));
    });
  });
}
