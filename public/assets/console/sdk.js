// Starts the Firebase SDK (Auth and Firestore) for sign-in and live reads. The bundle built by
// console-src/ is imported lazily: without it the console still works signed out.
import { LOOPBACK_HOSTS } from '../dom.js';

// For when Hosting's /__/firebase/init.json has no web app config (emulator offline, plain server).
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

/** Resolves to {fb, auth, db, emulated} (`fb`: the SDK module); rejects when the bundle cannot load. */
export async function startFirebase() {
  const [fb, hostingConfig] = await Promise.all([import('../vendor/firebase.js'), fetchHostingConfig()]);
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
