// The console page (index.html). Each concern is a module of console/; this one wires them and
// starts: boot() (re)loads everything for the current environment and session.
import { $, initTheme } from './dom.js';
import { state } from './console/state.js';
import { renderEnv, initEnv } from './console/env.js';
import { loadCatalog } from './console/catalog.js';
import { loadUsers, actAsSessionUser } from './console/users.js';
import { stopAllPolling } from './console/polling.js';
import { stopWatching } from './console/live.js';
import { loadApiKeys } from './console/api-keys.js';
import { initAdmin, clearAdminResult } from './console/admin.js';
import { renderSession, initSignin, startSession } from './console/signin.js';
import { renderBuyCredits } from './console/buy-credits.js';
import './console/cancel.js'; // the request list's Cancel buttons
import './console/delete.js'; // the request list's Delete buttons

async function boot({ keepAdminResult = false } = {}) {
  state.envEpoch += 1;
  state.epoch += 1;
  stopAllPolling();
  stopWatching();
  if (!keepAdminResult) clearAdminResult();
  const envEpoch = state.envEpoch;
  await Promise.all([loadCatalog(), state.session ? actAsSessionUser() : loadUsers(), loadApiKeys()]);
  if (envEpoch === state.envEpoch) renderBuyCredits(); // the catalog's packs, for this session
}

initEnv({ onSave: () => boot() });
initAdmin({ onSeeded: () => boot({ keepAdminResult: true }) });
initSignin({ onChange: () => boot() });

initTheme($('#theme-toggle'));
renderEnv();
renderSession();
startSession();

// For debugging from the browser's console (the browser tests read it too); holds no secrets.
window.__feraset = { state };
