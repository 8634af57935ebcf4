// Builds what Hosting serves from these sources (git-ignored outputs, no CDN at runtime): the
// two pages, each with the one head in head.html, and the Firebase JS SDK bundle.
// Run by `npm run build:web`, which `make install` runs.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const SRC = path.dirname(fileURLToPath(import.meta.url));
const PUBLIC = path.join(SRC, '..', 'public');

// Each page's CSP meta names what that page reaches; Hosting's header (firebase.json) applies too.
const API = 'https://feraset-imagen.web.app https://feraset-imagen.firebaseapp.com '
  + 'https://us-central1-feraset-imagen.cloudfunctions.net http://127.0.0.1:5551 http://localhost:5551';
const AUTH_AND_FIRESTORE = 'https://identitytoolkit.googleapis.com https://securetoken.googleapis.com '
  + 'https://firestore.googleapis.com http://127.0.0.1:9099 http://127.0.0.1:5561';
const STORAGE = 'https://firebasestorage.googleapis.com http://127.0.0.1:9199';

const PAGES = {
  'index.html': { title: 'Console', script: 'assets/app.js', connect: `${API} ${AUTH_AND_FIRESTORE}`, img: ` ${STORAGE}` },
  'report.html': { title: 'Weekly report', script: 'assets/report.js', connect: API, img: '' },
};

function fill(template, values) {
  return template.replace(/\{\{(\w+)\}\}/g, (_, key) => {
    if (!(key in values)) throw new Error(`no value for {{${key}}}`);
    return values[key];
  });
}

const head = readFileSync(path.join(SRC, 'head.html'), 'utf8').trimEnd();
for (const [page, values] of Object.entries(PAGES)) {
  const html = fill(readFileSync(path.join(SRC, page), 'utf8'), { head: fill(head, values) });
  writeFileSync(path.join(PUBLIC, page), html.replace('<!doctype html>\n',
    '<!doctype html>\n<!-- Built from console-src/ by `npm run build:web`: edit it there. -->\n'));
}

await build({
  entryPoints: [path.join(SRC, 'firebase-entry.js')],
  outfile: path.join(PUBLIC, 'assets', 'vendor', 'firebase.js'),
  bundle: true,
  format: 'esm',
  minify: true,
  platform: 'browser',
  target: 'es2020',
  legalComments: 'linked',
  logLevel: 'warning',
});
