// Firestore security rules for webhook signing secrets: webhook_secrets/{uid} is server-only. No
// client, not even the secret's owner, may read, list, query, create, change or delete it (the
// owner reads it through getWebhookSecret, with a credential). The webhook target of a request
// (`webhook_url` on the owner's own generation request) stays readable by its owner only.
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

const PROJECT_ID = 'demo-feraset-rules-webhooks';

const ALICE = 'alice';
const BOB = 'bob';
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw5H8sYyqY8vo=';

const now = Timestamp.fromDate(new Date('2025-08-04T12:00:00Z'));

function requestDoc(uid) {
  return {
    user_id: uid,
    model: 'Model A',
    style: 'realistic',
    color: 'vibrant',
    size: '512x512',
    prompt: 'a fox',
    status: 'completed',
    credits_deducted: 1,
    created_at: now,
    updated_at: now,
    completed_at: now,
    webhook_url: `https://hooks.example/${uid}`,
    webhook: { state: 'delivered', event_id: `msg_req-${uid}`, attempts: 1, last_status_code: 200, last_error: null, updated_at: now },
  };
}

const testEnv = seededRulesEnvironment(PROJECT_ID, async (db) => {
  for (const uid of [ALICE, BOB]) {
    await setDoc(doc(db, `webhook_secrets/${uid}`), { secret: SECRET, created_at: now, rotated_at: null });
    await setDoc(doc(db, `generation_requests/req-${uid}`), requestDoc(uid));
  }
});

const clients = clientKinds(testEnv, ALICE, BOB);

test('the seeded secret exists (the denials below are not about missing data)', async () => {
  await testEnv().withSecurityRulesDisabled(async (ctx) => {
    const snap = await assertSucceeds(getDoc(doc(ctx.firestore(), `webhook_secrets/${ALICE}`)));
    if (snap.data().secret !== SECRET) throw new Error('unexpected seeded data');
  });
});

for (const [who, client] of Object.entries(clients)) {
  describe(`${who}`, () => {
    test("cannot read a webhook secret, even its own", async () => {
      const db = client();
      await assertFails(getDoc(doc(db, `webhook_secrets/${ALICE}`)));
      await assertFails(getDoc(doc(db, `webhook_secrets/${BOB}`)));
      await assertFails(getDoc(doc(db, 'webhook_secrets/nobody')));
    });

    test('cannot list, query or listen to webhook_secrets', async () => {
      const db = client();
      await assertFails(getDocs(collection(db, 'webhook_secrets')));
      await assertFails(getDocs(query(collection(db, 'webhook_secrets'), where('secret', '==', SECRET))));
      await assertFails(firstSnapshot(collection(db, 'webhook_secrets')));
    });

    test('cannot create, replace, change or delete a secret', async () => {
      const db = client();
      await assertFails(setDoc(doc(db, 'webhook_secrets/carol'), { secret: SECRET }));
      await assertFails(setDoc(doc(db, `webhook_secrets/${ALICE}`), { secret: SECRET }));
      await assertFails(updateDoc(doc(db, `webhook_secrets/${ALICE}`), { secret: 'whsec_AAAA' }));
      await assertFails(deleteDoc(doc(db, `webhook_secrets/${ALICE}`)));
    });

    test("cannot change a request's webhook target or delivery", async () => {
      const db = client();
      const ref = doc(db, `generation_requests/req-${ALICE}`);
      await assertFails(updateDoc(ref, { webhook_url: 'https://169.254.169.254/' }));
      await assertFails(updateDoc(ref, { 'webhook.state': 'pending' }));
    });
  });
}

describe('the webhook target on a request', () => {
  test('is readable by the request owner only', async () => {
    const mine = await assertSucceeds(
      getDoc(doc(testEnv().authenticatedContext(ALICE).firestore(), `generation_requests/req-${ALICE}`)),
    );
    if (mine.data().webhook_url !== `https://hooks.example/${ALICE}`) throw new Error('unexpected data');
    await assertFails(getDoc(doc(testEnv().authenticatedContext(BOB).firestore(), `generation_requests/req-${ALICE}`)));
  });
});
