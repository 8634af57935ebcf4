// Email + password sign-in and sign-up (Firebase Auth). Signed in, every call sends the user's ID
// token and the console acts as that user (after createAccount); signed out, it is the open
// emulator mode with a user picker.
import { setIdTokenSource, setAuthFailureHandler } from '../api.js';
import { replace, $ } from '../dom.js';
import { state, announce } from './state.js';
import { startFirebase } from './sdk.js';
import { stopAllPolling } from './polling.js';
import { stopWatching } from './live.js';
import { resetApiKeys, loadApiKeys } from './api-keys.js';
import { ensureAccount, resetAccount } from './account.js';
import { resetAccountData } from './account-data.js';

const el = {
  card: $('#signin-card'),
  form: $('#signin-form'),
  email: $('#signin-email'),
  password: $('#signin-password'),
  button: $('#signin-button'),
  signup: $('#signup-button'),
  error: $('#signin-error'),
  status: $('#signin-status'),
  authPrompt: $('#auth-prompt'),
  sessionBar: $('#session-bar'),
  sessionEmail: $('#session-email'),
  sessionAdmin: $('#session-admin'),
  signout: $('#signout-button'),
  userPicker: $('#user-picker'),
  actingAs: $('#acting-as'),
  actingAsUid: $('#acting-as-uid'),
  adminCard: $('#admin-card'),
  keysCard: $('#api-keys-card'),
  dataCard: $('#account-data-card'),
};

const SIGNIN_ERRORS = {
  'auth/invalid-credential': 'Wrong email or password.',
  'auth/invalid-email': 'That is not a valid email address.',
  'auth/user-not-found': 'Wrong email or password.',
  'auth/wrong-password': 'Wrong email or password.',
  'auth/too-many-requests': 'Too many attempts; try again later.',
  'auth/network-request-failed': 'The sign-in service could not be reached.',
  'auth/user-disabled': 'This account is disabled.',
  'auth/email-already-in-use': 'An account with this email exists already: sign in instead.',
  'auth/weak-password': 'Choose a longer password (at least 6 characters).',
};

let onSessionChange = async () => {};
let sessionSeq = 0;

export function renderSession() {
  const session = state.session;
  el.sessionBar.hidden = !session;
  el.card.hidden = Boolean(session);
  el.userPicker.hidden = Boolean(session);
  el.actingAs.hidden = !session;
  el.sessionEmail.textContent = session ? session.email : '';
  el.sessionAdmin.hidden = !session?.admin;
  el.actingAsUid.textContent = session ? session.uid : '';
  // Signed out the admin tools stay; signed in, only an ID token with the admin claim gets them.
  el.adminCard.hidden = Boolean(session) && !session.admin;
  // A user's own API keys: signed in only (no key acts for an anonymous caller).
  el.keysCard.hidden = !session;
  // Download or delete the account: signed in only.
  el.dataCard.hidden = !session;
}

export function showAuthPrompt(err, refused403 = 'refused this user (HTTP 403)') {
  const refused = err?.status === 403 ? refused403 : 'asks for a signed-in user (HTTP 401)';
  replace(el.authPrompt, `The API ${refused}. Sign in to continue.`);
  el.authPrompt.hidden = false;
  el.card.hidden = false;
}

export function hideAuthPrompt() {
  el.authPrompt.hidden = true;
  replace(el.authPrompt);
}

/** The signed-in user changed (or the page found none): rebuild the console for it. */
async function applySession(user) {
  const seq = ++sessionSeq;
  const previousUid = state.session?.uid ?? null;
  if (user) {
    let admin = false;
    try {
      admin = (await user.getIdTokenResult()).claims.admin === true;
    } catch { /* no token now: act as a plain user; the API answers 401 if it is really gone */ }
    if (seq !== sessionSeq) return; // another sign-in or sign-out came meanwhile
    state.session = { uid: user.uid, email: user.email || user.uid, admin };
    hideAuthPrompt();
    announce(`Signed in as ${state.session.email}.`);
    if (state.session.uid !== previousUid) { resetAccount(); resetAccountData(); }
    renderSession();
    await ensureAccount(); // makes the account on the first sign-in; the same answer after
    if (seq !== sessionSeq) return;
  } else {
    if (state.session) {
      announce('Signed out.');
      state.userId = ''; // the picker comes back with its own last choice, not the signed-out uid
    }
    state.session = null;
    resetAccount();
    resetAccountData();
  }
  if ((state.session?.uid ?? null) !== previousUid) resetApiKeys();
  renderSession();
  await onSessionChange();
}

/** The form's email and password, or null (with a message) when one is missing. */
function credentials() {
  const email = el.email.value.trim();
  const password = el.password.value;
  replace(el.error);
  if (!email || !password) {
    replace(el.error, 'Enter your email and password.');
    return null;
  }
  return { email, password };
}

function setBusy(busy, button, label) {
  el.button.disabled = busy;
  el.signup.disabled = busy;
  button.textContent = label;
}

async function signIn(event) {
  event.preventDefault();
  if (!state.firebase || el.button.disabled) return;
  const given = credentials();
  if (!given) return;
  setBusy(true, el.button, 'Signing in…');
  try {
    const { user } = await state.firebase.fb.signInWithEmailAndPassword(state.firebase.auth, given.email, given.password);
    el.password.value = '';
    // Signing in again as the same user (after a 401) changes no auth state: rebuild here.
    if (user.uid === state.session?.uid) applySession(user);
  } catch (err) {
    replace(el.error, SIGNIN_ERRORS[err?.code] || `Sign-in failed: ${err?.message || 'unknown error'}`);
  } finally {
    setBusy(false, el.button, 'Sign in');
  }
}

/** A new email/password account: signed in at once, sent a verification e-mail; the auth state
 * change then creates its API account (createAccount). */
async function signUp() {
  if (!state.firebase || el.signup.disabled) return;
  const given = credentials();
  if (!given) return;
  setBusy(true, el.signup, 'Creating account…');
  try {
    const { fb, auth } = state.firebase;
    const { user } = await fb.createUserWithEmailAndPassword(auth, given.email, given.password);
    el.password.value = '';
    try {
      await fb.sendEmailVerification(user);
      announce(`Account created. A verification e-mail went to ${given.email}.`);
    } catch {
      announce('Account created. The verification e-mail could not be sent: use "Send the e-mail again".');
    }
  } catch (err) {
    replace(el.error, SIGNIN_ERRORS[err?.code] || `Sign-up failed: ${err?.message || 'unknown error'}`);
  } finally {
    setBusy(false, el.signup, 'Create account');
  }
}

async function signOut() {
  if (!state.firebase) return;
  stopWatching();
  resetApiKeys(); // a shown key leaves the page now, not when the auth state change arrives
  el.keysCard.hidden = true;
  el.signout.disabled = true;
  try {
    await state.firebase.fb.signOut(state.firebase.auth);
  } catch (err) {
    el.keysCard.hidden = !state.session; // still signed in: the panel comes back
    loadApiKeys();
    throw err;
  } finally {
    el.signout.disabled = false;
  }
}

/** Wire the form and the session bar; `onChange()` rebuilds the console for a new session. */
export function initSignin({ onChange }) {
  onSessionChange = onChange;
  el.form.addEventListener('submit', signIn);
  el.signup.addEventListener('click', signUp);
  el.signout.addEventListener('click', signOut);
  // A 401 or 403 from a user call ends the polling (no retry loop) and asks for a sign-in.
  setAuthFailureHandler((err) => {
    stopAllPolling();
    stopWatching();
    showAuthPrompt(err);
    if (!el.button.disabled) el.email.focus({ preventScroll: true });
  });
}

/** Start the SDK and follow the auth state; without the SDK the console works signed out. */
export async function startSession() {
  try {
    state.firebase = await startFirebase();
  } catch (err) {
    el.status.textContent = `Sign-in unavailable (${err?.message || 'the Firebase SDK did not load'}); `
      + 'the console works signed out.';
    onSessionChange();
    return;
  }
  const { auth, fb } = state.firebase;
  setIdTokenSource(() => (state.session && auth.currentUser ? auth.currentUser.getIdToken() : null));
  el.button.disabled = false;
  el.signup.disabled = false;
  el.status.textContent = 'Signed out, the console acts as any user it lists (the open emulator mode).';
  let last; // onAuthStateChanged also fires on start-up, with the restored user or null
  fb.onAuthStateChanged(auth, (user) => {
    const uid = user?.uid || null;
    if (last !== undefined && uid === last) return;
    last = uid;
    applySession(user);
  });
}
