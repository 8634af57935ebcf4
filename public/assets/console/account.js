// The signed-in user's account: createAccount after every sign-in and sign-up (it makes
// users/{uid} once and answers it as it is afterwards), and the welcome credits, which wait for
// a verified e-mail: a notice says so, and "check again" reloads the user, takes a fresh ID
// token (so that email_verified is current) and calls createAccount again.
import { api, showError } from '../api.js';
import { replace, $ } from '../dom.js';
import { state } from './state.js';
import { loadCredits } from './credits.js';

const el = {
  error: $('#account-error'),
  notice: $('#welcome-notice'),
  text: $('#welcome-text'),
  recheck: $('#welcome-recheck'),
  resend: $('#welcome-resend'),
  status: $('#welcome-status'),
};

/** Forget the account shown (signed out, or another user signed in). */
export function resetAccount() {
  state.account = null;
  replace(el.error);
  replace(el.status);
  renderWelcome();
}

let pending = null; // {uid, promise}: the createAccount call on its way

/**
 * createAccount for the signed-in user; its answer in state.account (null when it failed). A
 * call for the same user still on its way is shared, not repeated.
 */
export function ensureAccount() {
  const uid = state.session?.uid;
  if (!uid) return Promise.resolve(null);
  if (pending?.uid === uid) return pending.promise;
  const promise = createAccountFor(uid).finally(() => {
    if (pending?.promise === promise) pending = null;
  });
  pending = { uid, promise };
  return promise;
}

async function createAccountFor(uid) {
  replace(el.error);
  try {
    const account = await api('createAccount', { method: 'POST', body: {} });
    if (state.session?.uid !== uid) return null; // signed out or switched meanwhile
    state.account = account;
  } catch (err) {
    if (state.session?.uid !== uid) return null;
    state.account = null;
    showError(el.error, err, 'Could not set up your account: ');
  }
  renderWelcome();
  return state.account;
}

function renderWelcome() {
  const pending = Boolean(state.session && state.account?.welcomePending);
  el.notice.hidden = !pending;
  if (pending) {
    replace(el.text, `Verify your e-mail (${state.session.email}) to receive your welcome credits: `
      + 'follow the link in the message we sent, then check again here.');
  }
}

async function recheck() {
  const user = state.firebase?.auth.currentUser;
  if (!user || !state.session) return;
  const uid = state.session.uid;
  el.recheck.disabled = true;
  replace(el.status, 'Checking…');
  try {
    await state.firebase.fb.reload(user);
    await user.getIdToken(true); // a fresh token carries the current email_verified
    if (state.session?.uid !== uid) return;
    if (!user.emailVerified) {
      replace(el.status, 'Not verified yet: follow the link in the e-mail, then check again.');
      return;
    }
    const account = await ensureAccount();
    if (account?.welcomeGranted) {
      replace(el.status);
      await loadCredits({ reset: true });
    }
  } catch (err) {
    showError(el.status, err, 'Could not check: ');
  } finally {
    el.recheck.disabled = false;
  }
}

async function resend() {
  const user = state.firebase?.auth.currentUser;
  if (!user) return;
  el.resend.disabled = true;
  try {
    await state.firebase.fb.sendEmailVerification(user);
    replace(el.status, `Sent again to ${user.email || 'your address'}.`);
  } catch (err) {
    replace(el.status, `Could not send it: ${err?.message || 'unknown error'}`);
  } finally {
    el.resend.disabled = false;
  }
}

el.recheck.addEventListener('click', recheck);
el.resend.addEventListener('click', resend);
