// Firebase sign-in and live Firestore reads for the console. The SDK is the local bundle built
// by `npm run build:web` (public/assets/vendor/firebase.js); it is imported lazily so that the
// console keeps working signed out (the open emulator mode) when the bundle is missing.
import { LOOPBACK_HOSTS } from './dom.js';

// Used when Hosting's reserved /__/firebase/init.json has no web app configuration (the
// emulator offline, or a plain static server).
const EMULATOR_CONFIG = { projectId: 'feraset-imagen', apiKey: 'demo-key', authDomain: 'localhost' };
const AUTH_EMULATOR_URL = 'http://127.0.0.1:9099';
const FIRESTORE_EMULATOR = ['127.0.0.1', 5561];
const INIT_TIMEOUT_MS = 3000;

async function fetchHostingConfig() {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), INIT_TIMEOUT_MS);
  try {
    const response = await fetch('/__/firebase/init.json', { signal: controller.signal, cache: 'no-store' });
    if (!response.ok) return null;
    const config = JSON.parse(await response.text());
    return config && typeof config === 'object' && config.apiKey && config.projectId ? config : null;
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Load the SDK and start Auth and Firestore. Resolves to {fb, auth, db, emulated}, where `fb`
 * is the SDK module; rejects when the bundle cannot be loaded.
 */
export async function startFirebase() {
  const [fb, hostingConfig] = await Promise.all([import('./vendor/firebase.js'), fetchHostingConfig()]);
  const emulated = LOOPBACK_HOSTS.has(location.hostname);
  const app = fb.initializeApp(hostingConfig || EMULATOR_CONFIG);
  // No popup/redirect resolver: email + password only, so no auth iframe is ever loaded.
  const auth = fb.initializeAuth(app, { persistence: [fb.indexedDBLocalPersistence, fb.browserLocalPersistence] });
  const db = fb.getFirestore(app);
  if (emulated) {
    fb.connectAuthEmulator(auth, AUTH_EMULATOR_URL, { disableWarnings: true });
    fb.connectFirestoreEmulator(db, ...FIRESTORE_EMULATOR);
  }
  return { fb, auth, db, emulated };
}

// Stored requests are snake_case with Firestore Timestamps; the list renders the API's shape.
const PROGRESS = { queued: 10, processing: 50 };

function isoOrNull(value) {
  if (!value) return null;
  const date = typeof value.toDate === 'function' ? value.toDate() : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/** A generation_requests document as the record the request list renders. */
export function requestFromDoc(id, data) {
  const status = typeof data.status === 'string' ? data.status : 'unknown';
  return {
    generationRequestId: id,
    status,
    model: data.model,
    style: data.style,
    color: data.color,
    size: data.size,
    prompt: data.prompt,
    imageUrl: data.image_url ?? null,
    error_message: data.error_message ?? null,
    progress: PROGRESS[status] ?? 100,
    credits_deducted: data.credits_deducted,
    created_at: isoOrNull(data.created_at),
    updated_at: isoOrNull(data.updated_at),
    completed_at: isoOrNull(data.completed_at),
  };
}

/**
 * Follow the newest `max` requests of `uid`: onChange(changes) on each snapshot, where `changes`
 * lists {type, record} since the previous one (the first lists them all). Returns the
 * unsubscribe function.
 */
export function watchUserRequests({ fb, db }, uid, max, onChange, onError) {
  const q = fb.query(fb.collection(db, 'generation_requests'), fb.where('user_id', '==', uid),
    fb.orderBy('created_at', 'desc'), fb.limit(max));
  return fb.onSnapshot(q, (snapshot) => {
    onChange(snapshot.docChanges().map((c) => ({ type: c.type, record: requestFromDoc(c.doc.id, c.doc.data()) })));
  }, onError);
}
