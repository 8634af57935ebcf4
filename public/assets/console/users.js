// Whom the console acts as: signed out, the user picked from listUsers (the open emulator mode);
// signed in, the signed-in user. Choosing one resets everything shown for the previous one.
import { api, showError } from '../api.js';
import { h, replace, $, storageGet, storageSet } from '../dom.js';
import { state } from './state.js';
import { loadCredits, clearCredits } from './credits.js';
import { clearRequestList } from './request-list.js';
import { loadRequests, stopAllPolling } from './polling.js';
import { watchRequests, stopWatching } from './live.js';
import { hideFormError, updateSubmitState } from './request-form.js';
import { hideAuthPrompt, showAuthPrompt } from './signin.js';

const USER_KEY = 'feraset.userId';

const el = {
  select: $('#user-select'),
  error: $('#users-error'),
};

/** Signed out: fill the picker from listUsers and act as the previous choice, if still listed. */
export async function loadUsers() {
  const epoch = state.envEpoch;
  el.select.disabled = true;
  replace(el.error);
  let refused = null; // a 401 or 403: auth is required and the caller is no admin
  try {
    const data = await api('listUsers', { admin: true });
    if (epoch !== state.envEpoch) return;
    state.users = Array.isArray(data.users) ? data.users : [];
  } catch (err) {
    if (epoch !== state.envEpoch) return;
    state.users = [];
    if (err?.status === 401 || err?.status === 403) refused = err;
    if (!refused) showError(el.error, err);
  }
  const previous = state.userId || storageGet(localStorage, USER_KEY) || '';
  const empty = refused ? 'Sign in to act as a user' : 'No users (seed the database)';
  const options = [h('option', { value: '' }, state.users.length ? 'Choose a user…' : empty)];
  for (const user of state.users) {
    options.push(h('option', { value: user.userId, title: user.email || undefined }, userLabel(user)));
  }
  replace(el.select, options);
  el.select.disabled = state.users.length === 0;
  const keep = state.users.some((u) => u.userId === previous) ? previous : '';
  el.select.value = keep;
  await selectUser(keep);
  // Auth is required (as deployed): the user list is an admin view, so a sign-in is asked for.
  if (refused) showAuthPrompt(refused, 'lists users to admins only (HTTP 403)');
}

/** Signed in: no picker, the console acts as the signed-in uid. */
export async function actAsSessionUser() {
  state.users = [];
  await selectUser(state.session.uid);
}

async function selectUser(userId) {
  state.epoch += 1;
  stopAllPolling();
  stopWatching();
  state.userId = userId;
  state.requests.clear();
  state.cancelling.clear();
  state.txCursor = null;
  if (!state.session) storageSet(localStorage, USER_KEY, userId); // the picker's choice, signed out
  hideAuthPrompt();
  clearRequestList();
  clearCredits();
  hideFormError();
  updateSubmitState();
  if (!userId) return;
  if (state.session) {
    watchRequests(userId);
    await loadCredits({ reset: true });
  } else {
    await Promise.all([loadCredits({ reset: true }), loadRequests()]);
  }
}

function userLabel(user) {
  const name = user.name && user.name !== user.userId ? user.name : '';
  return name ? `${user.userId} — ${name}` : String(user.userId);
}

el.select.addEventListener('change', () => {
  selectUser(el.select.value);
});
