// Firestore security rules for the daily usage rollups: usage_daily/{YYYY-MM-DD} and its per-user
// shards usage_daily/{day}/users/{shard} are server-only, like reports. No client (not even an
// account with the admin claim: admins read reports through the functions) may read, list, query,
// listen to, create, change or delete them; the rollup job writes them with the Admin SDK.
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

const PROJECT_ID = 'demo-feraset-rules-usage-daily';

const ALICE = 'alice';
const BOB = 'bob';
const DAY = '2025-08-04';

const now = Timestamp.fromDate(new Date('2025-08-05T00:10:00Z'));

const HEADER = {
  date: DAY,
  format: 1,
  settled: true,
  unsettled_requests: 0,
  computed_at: now,
  requests: { total: 2, completed: 1, failed: 1, cancelled: 0 },
  credits_deducted: 4,
  credits_refunded: 1,
  deduction_count: 2,
  refund_count: 1,
  new_users: 0,
  active_users: 2,
  user_shards: 1,
};
const SHARD = {
  date: DAY,
  shard: 0,
  users: [
    { id: ALICE, requests: 1, credits: 3 },
    { id: BOB, requests: 1, credits: 0 },
  ],
};

const testEnv = seededRulesEnvironment(PROJECT_ID, async (db) => {
  await setDoc(doc(db, `usage_daily/${DAY}`), HEADER);
  await setDoc(doc(db, `usage_daily/${DAY}/users/0000`), SHARD);
});

const clients = clientKinds(testEnv, ALICE, BOB);

test('the seeded rollup exists (the denials below are not about missing data)', async () => {
  await testEnv().withSecurityRulesDisabled(async (ctx) => {
    const db = ctx.firestore();
    const header = await assertSucceeds(getDoc(doc(db, `usage_daily/${DAY}`)));
    const shard = await assertSucceeds(getDoc(doc(db, `usage_daily/${DAY}/users/0000`)));
    if (header.data().user_shards !== 1 || shard.data().users.length !== 2) {
      throw new Error('unexpected seeded data');
    }
  });
});

for (const [who, client] of Object.entries(clients)) {
  describe(`${who}`, () => {
    test('cannot read a rollup or its user shards', async () => {
      const db = client();
      await assertFails(getDoc(doc(db, `usage_daily/${DAY}`)));
      await assertFails(getDoc(doc(db, `usage_daily/${DAY}/users/0000`)));
      await assertFails(getDoc(doc(db, 'usage_daily/1999-01-01')));
    });

    test('cannot list, query or listen to the rollups or the shards', async () => {
      const db = client();
      await assertFails(getDocs(collection(db, 'usage_daily')));
      await assertFails(getDocs(query(collection(db, 'usage_daily'), where('settled', '==', true))));
      await assertFails(getDocs(collection(db, `usage_daily/${DAY}/users`)));
      await assertFails(getDocs(collectionGroup(db, 'users')));
      await assertFails(firstSnapshot(collection(db, 'usage_daily')));
      await assertFails(firstSnapshot(doc(db, `usage_daily/${DAY}`)));
    });

    test('cannot create, replace, change or delete a rollup or a shard', async () => {
      const db = client();
      await assertFails(setDoc(doc(db, 'usage_daily/2025-08-05'), HEADER));
      await assertFails(setDoc(doc(db, `usage_daily/${DAY}`), { ...HEADER, settled: false }));
      await assertFails(updateDoc(doc(db, `usage_daily/${DAY}`), { 'requests.total': 0 }));
      await assertFails(setDoc(doc(db, `usage_daily/${DAY}/users/0001`), SHARD));
      await assertFails(updateDoc(doc(db, `usage_daily/${DAY}/users/0000`), { users: [] }));
      await assertFails(deleteDoc(doc(db, `usage_daily/${DAY}`)));
      await assertFails(deleteDoc(doc(db, `usage_daily/${DAY}/users/0000`)));
    });
  });
}
