// Firestore security rules tests (deny by default, owners read their own data, no client
// writes), run against the Firestore emulator.
//
//   firebase emulators:exec --only firestore "npm run test:rules"
//   # or, with an emulator already running:
//   FIRESTORE_EMULATOR_HOST=127.0.0.1:5561 npm run test:rules
//
// Uses a dedicated project id so loading rules / clearing data never touches the app's
// emulator data (rules-unit-testing scopes both to the project id).

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
  limit,
  orderBy,
  query,
  setDoc,
  updateDoc,
  where,
} from 'firebase/firestore';
import { firstSnapshot, seededRulesEnvironment } from '../lib/rules.mjs';

const PROJECT_ID = 'demo-feraset-rules';

const ALICE = 'alice';
const BOB = 'bob';

const now = Timestamp.fromDate(new Date('2025-01-06T12:00:00Z'));

function userDoc(uid) {
  return {
    name: `User ${uid}`,
    email: `${uid}@example.com`,
    current_credits: 90,
    initial_credits: 100,
    total_images_generated: 1,
    is_active: true,
    created_at: now,
    updated_at: now,
    last_login: now,
  };
}

function transactionDoc(uid, requestId) {
  return {
    type: 'deduction',
    credits: 10,
    generation_request_id: requestId,
    user_id: uid,
    timestamp: now,
    description: 'Image generation',
  };
}

function requestDoc(uid) {
  return {
    user_id: uid,
    model: 'Model A',
    style: 'realistic',
    color: 'vibrant',
    size: '1024x1024',
    prompt: 'a red fox in the snow',
    status: 'completed',
    credits_deducted: 10,
    image_url: 'https://example.com/image.png',
    error_message: null,
    attempts: 1,
    created_at: now,
    updated_at: now,
    completed_at: now,
  };
}

// Every collection the app uses, with one existing document path each (seeded below).
const EXISTING_DOCS = {
  users: `users/${ALICE}`,
  'users/{uid}/transactions': `users/${ALICE}/transactions/tx-alice-1`,
  generation_requests: 'generation_requests/req-alice-1',
  styles: 'styles/realistic',
  colors: 'colors/vibrant',
  sizes: 'sizes/1024x1024',
  reports: 'reports/2025-W01',
  idempotency_keys: 'idempotency_keys/hash-alice-1',
};

// The collection path that holds each of those documents (for list / create).
const COLLECTION_PATHS = {
  users: 'users',
  'users/{uid}/transactions': `users/${ALICE}/transactions`,
  generation_requests: 'generation_requests',
  styles: 'styles',
  colors: 'colors',
  sizes: 'sizes',
  reports: 'reports',
  idempotency_keys: 'idempotency_keys',
};

async function seed(db) {
  await setDoc(doc(db, `users/${ALICE}`), userDoc(ALICE));
  await setDoc(doc(db, `users/${BOB}`), userDoc(BOB));
  await setDoc(doc(db, `users/${ALICE}/transactions/tx-alice-1`), transactionDoc(ALICE, 'req-alice-1'));
  await setDoc(doc(db, `users/${BOB}/transactions/tx-bob-1`), transactionDoc(BOB, 'req-bob-1'));
  await setDoc(doc(db, 'generation_requests/req-alice-1'), requestDoc(ALICE));
  await setDoc(doc(db, 'generation_requests/req-alice-2'), { ...requestDoc(ALICE), status: 'pending' });
  await setDoc(doc(db, 'generation_requests/req-bob-1'), requestDoc(BOB));
  await setDoc(doc(db, 'styles/realistic'), {
    display_name: 'Realistic', description: 'Photo-realistic', is_active: true, sort_order: 1, created_at: now,
  });
  await setDoc(doc(db, 'colors/vibrant'), {
    display_name: 'Vibrant', description: 'Bold colours', hex_examples: ['#ff0000'], is_active: true,
    sort_order: 1, created_at: now,
  });
  await setDoc(doc(db, 'sizes/1024x1024'), {
    width: 1024, height: 1024, aspect_ratio: '1:1', display_name: 'Square', description: 'Square',
    credit_cost: 10, is_active: true, sort_order: 1, created_at: now,
  });
  await setDoc(doc(db, 'reports/2025-W01'), { week: '2025-W01', created_at: now });
  await setDoc(doc(db, 'idempotency_keys/hash-alice-1'), {
    user_id: ALICE, key: 'k1', request_hash: 'abc', response: {}, created_at: now, expires_at: now,
  });
}

const testEnv = seededRulesEnvironment(PROJECT_ID, seed);

const anon = () => testEnv().unauthenticatedContext().firestore();
const asUser = (uid) => testEnv().authenticatedContext(uid).firestore();

describe('unauthenticated client', () => {
  for (const [name, path] of Object.entries(EXISTING_DOCS)) {
    test(`cannot read or write ${name}`, async () => {
      const db = anon();
      const ref = doc(db, path);
      await assertFails(getDoc(ref));
      await assertFails(getDocs(collection(db, COLLECTION_PATHS[name])));
      await assertFails(setDoc(doc(db, `${COLLECTION_PATHS[name]}/new-doc`), { user_id: ALICE, x: 1 }));
      await assertFails(setDoc(ref, { x: 1 }, { merge: true }));
      await assertFails(updateDoc(ref, { x: 2 }));
      await assertFails(deleteDoc(ref));
    });
  }

  test('cannot query generation_requests even when filtered by user_id', async () => {
    const db = anon();
    await assertFails(getDocs(query(collection(db, 'generation_requests'), where('user_id', '==', ALICE))));
  });
});

// The console's live status: the listener it opens for the signed-in user (console/live.js).
function liveQuery(db, uid) {
  return query(
    collection(db, 'generation_requests'),
    where('user_id', '==', uid),
    orderBy('created_at', 'desc'),
    limit(20),
  );
}

describe('live listeners on generation_requests', () => {
  test('an owner can listen to its own requests', async () => {
    const snap = await assertSucceeds(firstSnapshot(liveQuery(asUser(ALICE), ALICE)));
    const ids = snap.docs.map((d) => d.id).sort();
    if (ids.join(',') !== 'req-alice-1,req-alice-2') throw new Error(`unexpected ids ${ids}`);
  });

  test("another user cannot listen to them", async () => {
    await assertFails(firstSnapshot(liveQuery(asUser(BOB), ALICE)));
  });

  test('an anonymous client cannot listen to them', async () => {
    await assertFails(firstSnapshot(liveQuery(anon(), ALICE)));
  });
});

describe('signed-in user: allowed reads of its own data', () => {
  test('reads its own user document', async () => {
    const snap = await assertSucceeds(getDoc(doc(asUser(ALICE), `users/${ALICE}`)));
    if (snap.data().current_credits !== 90) throw new Error('unexpected seeded data');
  });

  test('reads its own transaction', async () => {
    await assertSucceeds(getDoc(doc(asUser(ALICE), `users/${ALICE}/transactions/tx-alice-1`)));
  });

  test('lists its own transactions', async () => {
    const snap = await assertSucceeds(getDocs(collection(asUser(ALICE), `users/${ALICE}/transactions`)));
    if (snap.size !== 1) throw new Error(`expected 1 transaction, got ${snap.size}`);
  });

  test('reads its own generation request', async () => {
    await assertSucceeds(getDoc(doc(asUser(ALICE), 'generation_requests/req-alice-1')));
  });

  test('queries generation_requests where user_id == uid', async () => {
    const db = asUser(ALICE);
    const snap = await assertSucceeds(
      getDocs(query(collection(db, 'generation_requests'), where('user_id', '==', ALICE))),
    );
    const ids = snap.docs.map((d) => d.id).sort();
    if (ids.join(',') !== 'req-alice-1,req-alice-2') throw new Error(`unexpected ids ${ids}`);
  });

  test('queries its own generation_requests with an extra status filter', async () => {
    const db = asUser(ALICE);
    await assertSucceeds(
      getDocs(
        query(collection(db, 'generation_requests'), where('user_id', '==', ALICE), where('status', '==', 'pending')),
      ),
    );
  });

  test('reading a missing request id is denied (no existence oracle via resource == null)', async () => {
    await assertFails(getDoc(doc(asUser(ALICE), 'generation_requests/does-not-exist')));
  });
});

describe('signed-in user: cannot read other users\u2019 data', () => {
  test("cannot read another user's document", async () => {
    await assertFails(getDoc(doc(asUser(ALICE), `users/${BOB}`)));
  });

  test('cannot list the users collection', async () => {
    await assertFails(getDocs(collection(asUser(ALICE), 'users')));
  });

  test("cannot read another user's transaction", async () => {
    await assertFails(getDoc(doc(asUser(ALICE), `users/${BOB}/transactions/tx-bob-1`)));
  });

  test("cannot list another user's transactions", async () => {
    await assertFails(getDocs(collection(asUser(ALICE), `users/${BOB}/transactions`)));
  });

  test('cannot run a collection-group query over all transactions', async () => {
    await assertFails(getDocs(query(collectionGroup(asUser(ALICE), 'transactions'), where('user_id', '==', ALICE))));
  });

  test("cannot read another user's generation request", async () => {
    await assertFails(getDoc(doc(asUser(ALICE), 'generation_requests/req-bob-1')));
  });

  test('cannot list all generation_requests unfiltered', async () => {
    await assertFails(getDocs(collection(asUser(ALICE), 'generation_requests')));
  });

  test("cannot query generation_requests for another user's id", async () => {
    await assertFails(
      getDocs(query(collection(asUser(ALICE), 'generation_requests'), where('user_id', '==', BOB))),
    );
  });

  test('cannot query generation_requests filtered on another field only', async () => {
    await assertFails(
      getDocs(query(collection(asUser(ALICE), 'generation_requests'), where('status', '==', 'completed'))),
    );
  });

  for (const name of ['styles', 'colors', 'sizes', 'reports', 'idempotency_keys']) {
    test(`cannot read ${name} (server-only)`, async () => {
      const db = asUser(ALICE);
      await assertFails(getDoc(doc(db, EXISTING_DOCS[name])));
      await assertFails(getDocs(collection(db, COLLECTION_PATHS[name])));
    });
  }

  test('cannot read idempotency_keys even when filtered by its own user_id', async () => {
    await assertFails(
      getDocs(query(collection(asUser(ALICE), 'idempotency_keys'), where('user_id', '==', ALICE))),
    );
  });
});

describe('signed-in user: no client writes', () => {
  test('cannot update its own current_credits', async () => {
    const db = asUser(ALICE);
    await assertFails(updateDoc(doc(db, `users/${ALICE}`), { current_credits: 1_000_000 }));
    await assertFails(setDoc(doc(db, `users/${ALICE}`), { current_credits: 1_000_000 }, { merge: true }));
  });

  test('cannot overwrite or delete its own user document', async () => {
    const db = asUser(ALICE);
    await assertFails(setDoc(doc(db, `users/${ALICE}`), userDoc(ALICE)));
    await assertFails(deleteDoc(doc(db, `users/${ALICE}`)));
  });

  test('cannot create its own user document', async () => {
    await assertFails(setDoc(doc(asUser('carol'), 'users/carol'), userDoc('carol')));
  });

  test('cannot mark itself due welcome credits nor book them (only createAccount does)', async () => {
    const db = asUser(ALICE);
    await assertFails(updateDoc(doc(db, `users/${ALICE}`), { welcome_due: true }));
    await assertFails(
      setDoc(doc(db, `users/${ALICE}/transactions/welcome_${ALICE}`), {
        type: 'welcome', credits: 10, user_id: ALICE, timestamp: new Date(), description: 'Welcome credits',
      }),
    );
  });

  test("cannot update another user's credits", async () => {
    await assertFails(updateDoc(doc(asUser(ALICE), `users/${BOB}`), { current_credits: 0 }));
  });

  test('cannot create a transaction in its own ledger (e.g. a fake refund)', async () => {
    const db = asUser(ALICE);
    await assertFails(
      setDoc(doc(db, `users/${ALICE}/transactions/refund_req-alice-1`), {
        ...transactionDoc(ALICE, 'req-alice-1'),
        type: 'refund',
      }),
    );
  });

  test('cannot update or delete its own transactions', async () => {
    const db = asUser(ALICE);
    const ref = doc(db, `users/${ALICE}/transactions/tx-alice-1`);
    await assertFails(updateDoc(ref, { credits: 1 }));
    await assertFails(deleteDoc(ref));
  });

  test('cannot create a generation request', async () => {
    const db = asUser(ALICE);
    await assertFails(setDoc(doc(db, 'generation_requests/req-alice-new'), requestDoc(ALICE)));
  });

  test('cannot update or delete its own generation request', async () => {
    const db = asUser(ALICE);
    const ref = doc(db, 'generation_requests/req-alice-2');
    await assertFails(updateDoc(ref, { status: 'completed', image_url: 'https://evil.example/x.png' }));
    await assertFails(deleteDoc(ref));
  });

  for (const name of ['styles', 'colors', 'sizes', 'reports', 'idempotency_keys']) {
    test(`cannot write ${name}`, async () => {
      const db = asUser(ALICE);
      const ref = doc(db, EXISTING_DOCS[name]);
      await assertFails(setDoc(doc(db, `${COLLECTION_PATHS[name]}/new-doc`), { user_id: ALICE, x: 1 }));
      await assertFails(updateDoc(ref, { is_active: false }));
      await assertFails(deleteDoc(ref));
    });
  }

  test('cannot write to an unknown collection', async () => {
    await assertFails(setDoc(doc(asUser(ALICE), 'anything/else'), { x: 1 }));
  });
});

describe('a deleted generation request (deleteGenerationRequest)', () => {
  // The function empties the prompt and clears the picture's fields; the owner still reads it
  // (the console's live list shows it deleted), nobody else does, and nobody writes it.
  const deleted = () => ({
    ...requestDoc(ALICE), prompt: '', image_url: null, image_path: null, image_token: null,
    deleted: true, deleted_at: now,
  });

  test('its owner still reads it, another user does not, nobody writes it', async () => {
    await testEnv().withSecurityRulesDisabled(async (ctx) => {
      await setDoc(doc(ctx.firestore(), 'generation_requests/req-alice-deleted'), deleted());
    });
    const snap = await assertSucceeds(getDoc(doc(asUser(ALICE), 'generation_requests/req-alice-deleted')));
    if (snap.get('deleted') !== true || snap.get('prompt') !== '') throw new Error('not the deleted request');
    await assertFails(getDoc(doc(asUser(BOB), 'generation_requests/req-alice-deleted')));
    await assertFails(updateDoc(doc(asUser(ALICE), 'generation_requests/req-alice-deleted'),
      { prompt: 'put back', deleted: false }));
  });
});
