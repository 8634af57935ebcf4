// Builds what Hosting serves from these sources (git-ignored outputs, no CDN at runtime): the
// two pages, each with the one head in head.html and its CSP from csp.mjs, and the Firebase JS
// SDK bundle.
//   node console-src/build.mjs               deployed pages in public/ and the SDK bundle (make
//                                            install, firebase.json's hosting predeploy)
//   node console-src/build.mjs --pages DIR   the deployed pages only, into DIR
//   node console-src/build.mjs --emulators   the local stack's Hosting (scripts/stack/emulators.py):
//     pages whose CSP adds the emulators' origins in .cache/hosting/ (public/assets linked in),
//     and firebase.emulators.local.json: firebase.json serving that directory with the header
//     that names them too. Deployed pages and firebase.json name no loopback origin.
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { PAGE_NAMES, headerPolicy, pagePolicy } from './csp.mjs';

const SRC = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.join(SRC, '..');
const PUBLIC = path.join(ROOT, 'public');
const LOCAL_PUBLIC = '.cache/hosting';
const LOCAL_CONFIG = 'firebase.emulators.local.json';

const TITLES = { 'index.html': 'Console', 'report.html': 'Weekly report' };
const SCRIPTS = { 'index.html': 'assets/app.js', 'report.html': 'assets/report.js' };

function fill(template, values) {
  return template.replace(/\{\{(\w+)\}\}/g, (_, key) => {
    if (!(key in values)) throw new Error(`no value for {{${key}}}`);
    return values[key];
  });
}

function writePages(dir, emulators) {
  const head = readFileSync(path.join(SRC, 'head.html'), 'utf8').trimEnd();
  mkdirSync(dir, { recursive: true });
  for (const page of PAGE_NAMES) {
    const values = { title: TITLES[page], script: SCRIPTS[page], csp: pagePolicy(page, { emulators }) };
    const html = fill(readFileSync(path.join(SRC, page), 'utf8'), { head: fill(head, values) });
    writeFileSync(path.join(dir, page), html.replace('<!doctype html>\n',
      '<!doctype html>\n<!-- Built from console-src/ by `npm run build:web`: edit it there. -->\n'));
  }
}

/** firebase.json with Hosting serving `publicDir` under the emulators' header. */
function localConfig(publicDir) {
  const config = JSON.parse(readFileSync(path.join(ROOT, 'firebase.json'), 'utf8'));
  const csp = config.hosting.headers.flatMap((rule) => rule.headers)
    .find((header) => header.key === 'Content-Security-Policy');
  if (csp.value !== headerPolicy()) {
    throw new Error('firebase.json\'s Content-Security-Policy is not csp.mjs\'s headerPolicy()');
  }
  csp.value = headerPolicy({ emulators: true });
  config.hosting.public = publicDir;
  delete config.hosting.predeploy;
  return config;
}

const args = process.argv.slice(2);
if (args[0] === '--pages') {
  writePages(path.resolve(args[1]), false);
  process.exit(0);
}
if (args[0] === '--emulators') {
  const dir = path.join(ROOT, LOCAL_PUBLIC);
  writePages(dir, true);
  rmSync(path.join(dir, 'assets'), { force: true }); // the link only, never what it points to
  symlinkSync(path.join('..', '..', 'public', 'assets'), path.join(dir, 'assets'));
  writeFileSync(path.join(ROOT, LOCAL_CONFIG), `${JSON.stringify(localConfig(LOCAL_PUBLIC), null, 2)}\n`);
  process.exit(0);
}
if (args.length) throw new Error(`unknown arguments: ${args.join(' ')}`);

writePages(PUBLIC, false);

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
