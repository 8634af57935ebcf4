// The console's Content-Security-Policy, the one place its directives are written: Hosting's
// header (the value in firebase.json, which a unit test holds equal to `headerPolicy()`) and
// each page's meta tag. Deployed, they name no loopback origin; the local stack's build adds the
// emulators' (build.mjs --emulators).

const DEPLOYED = {
  api: ['https://feraset-imagen.web.app', 'https://feraset-imagen.firebaseapp.com',
    'https://us-central1-feraset-imagen.cloudfunctions.net'],
  auth: ['https://identitytoolkit.googleapis.com', 'https://securetoken.googleapis.com'],
  firestore: ['https://firestore.googleapis.com'],
  storage: ['https://firebasestorage.googleapis.com'],
};

// The Functions, Auth, Firestore and Storage emulators (firebase.json, scripts/stack/emulators.py).
const EMULATORS = {
  api: ['http://127.0.0.1:5551', 'http://localhost:5551'],
  auth: ['http://127.0.0.1:9099'],
  firestore: ['http://127.0.0.1:5561'],
  storage: ['http://127.0.0.1:9199'],
};

// What each page reaches: the console signs in, listens to Firestore and shows stored images;
// the report page only calls the API.
const PAGES = {
  'index.html': { connect: ['api', 'auth', 'firestore'], img: ['storage'] },
  'report.html': { connect: ['api'], img: [] },
};

function origins(groups, emulators) {
  return groups.flatMap((group) => [...DEPLOYED[group], ...(emulators ? EMULATORS[group] : [])]);
}

function policy({ connect, img }, emulators, { frameAncestors = false } = {}) {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    ['img-src', "'self'", 'data:', ...origins(img, emulators)].join(' '),
    ['connect-src', "'self'", ...origins(connect, emulators)].join(' '),
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    ...(frameAncestors ? ["frame-ancestors 'none'"] : []), // ignored in a meta tag
  ].join('; ');
}

export const PAGE_NAMES = Object.keys(PAGES);

/** The meta tag's policy of `page` (a key of PAGES). */
export function pagePolicy(page, { emulators = false } = {}) {
  return policy(PAGES[page], emulators);
}

/** Hosting's header: every page's sources together, and no framing. */
export function headerPolicy({ emulators = false } = {}) {
  const all = (kind) => [...new Set(Object.values(PAGES).flatMap((page) => page[kind]))];
  return policy({ connect: all('connect'), img: all('img') }, emulators, { frameAncestors: true });
}
