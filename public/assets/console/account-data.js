// The signed-in user's own data: "Download my data" (exportAccountData, saved as a file through a
// Blob URL) and "Delete account" (deleteAccount, after typing the e-mail or "delete"). Deleting
// needs a sign-in within the last 5 minutes: on 401 recent_sign_in_required the console asks for
// the password, signs in again (reauthenticateWithCredential) and retries.
import { api, showError } from '../api.js';
import { replace, $ } from '../dom.js';
import { state, announce } from './state.js';

const el = {
  exportButton: $('#export-button'),
  exportStatus: $('#export-status'),
  form: $('#delete-account-form'),
  confirm: $('#delete-confirm'),
  reauth: $('#reauth-field'),
  password: $('#reauth-password'),
  button: $('#delete-account-button'),
  error: $('#delete-account-error'),
  status: $('#delete-account-status'),
};

// A deletion walks every request and picture: as long as the function may run (300 s).
const DELETE_TIMEOUT_MS = 300000;

/** Forget what the card shows (signed out, or another user signed in). */
export function resetAccountData() {
  el.confirm.value = '';
  el.password.value = '';
  el.reauth.hidden = true;
  replace(el.error);
  replace(el.status);
  replace(el.exportStatus);
}

async function downloadData() {
  const uid = state.session?.uid;
  if (!uid) return;
  el.exportButton.disabled = true;
  replace(el.exportStatus, 'Preparing your data…');
  try {
    const data = await api('exportAccountData', { timeoutMs: DELETE_TIMEOUT_MS });
    const blob = new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' });
    const url = URL.createObjectURL(blob);
    const link = document.createElement('a');
    link.href = url;
    link.download = `feraset-account-${uid}.json`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    replace(el.exportStatus, `Downloaded: ${data.generationRequests.length} requests, `
      + `${data.transactions.length} transactions.`);
  } catch (err) {
    replace(el.exportStatus);
    showError(el.exportStatus, err, 'Could not download your data: ');
  } finally {
    el.exportButton.disabled = false;
  }
}

function confirmed() {
  const typed = el.confirm.value.trim().toLowerCase();
  const email = (state.session?.email || '').toLowerCase();
  return typed === 'delete' || (email !== '' && typed === email);
}

async function signInAgain() {
  const { fb, auth } = state.firebase;
  const user = auth.currentUser;
  const credential = fb.EmailAuthProvider.credential(user.email, el.password.value);
  await fb.reauthenticateWithCredential(user, credential);
  await user.getIdToken(true); // the next call carries the new sign-in time
}

async function deleteAccount(event) {
  event.preventDefault();
  replace(el.error);
  if (!state.session || !state.firebase) return;
  if (!confirmed()) {
    replace(el.error, `Type your e-mail (${state.session.email}) or "delete" to confirm.`);
    el.confirm.focus();
    return;
  }
  el.button.disabled = true;
  try {
    if (!el.reauth.hidden) {
      if (!el.password.value) {
        replace(el.error, 'Enter your password to sign in again.');
        el.password.focus();
        return;
      }
      replace(el.status, 'Signing in again…');
      await signInAgain();
    }
    replace(el.status, 'Deleting your account…');
    let result;
    try {
      result = await api('deleteAccount', { method: 'POST', body: {}, timeoutMs: DELETE_TIMEOUT_MS });
    } catch (err) {
      if (err?.body?.error !== 'recent_sign_in_required') throw err;
      replace(el.status);
      el.reauth.hidden = false;
      replace(el.error, 'For your safety, sign in again: enter your password and press Delete account again.');
      el.password.focus();
      return;
    }
    replace(el.status, `Account deleted (${result.cancelledRequests} requests cancelled, `
      + `${result.revokedKeys} keys revoked, ${result.deletedPictures} pictures deleted).`);
    await state.firebase.fb.signOut(state.firebase.auth);
    announce('Your account was deleted and you are signed out.');
  } catch (err) {
    replace(el.status);
    if (err?.code === 'auth/invalid-credential' || err?.code === 'auth/wrong-password') {
      replace(el.error, 'Wrong password.');
    } else {
      showError(el.error, err, 'Could not delete the account: ');
    }
  } finally {
    el.button.disabled = false;
  }
}

el.exportButton.addEventListener('click', downloadData);
el.form.addEventListener('submit', deleteAccount);
