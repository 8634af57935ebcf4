// A new API key is shown once: it lives only in the read-only field's value (never in `state`,
// storage or a log) until the user hides it, signs out, another user signs in or the page goes away.
import { replace, $ } from '../dom.js';

const el = {
  name: $('#api-key-name'),
  reveal: $('#api-key-reveal'),
  secret: $('#api-key-secret'),
  secretName: $('#api-key-secret-name'),
  copy: $('#api-key-copy'),
  copyStatus: $('#api-key-copy-status'),
  done: $('#api-key-done'),
};

let shownKeyId = null;

/** True while the key `keyId` is the one shown. */
export function isShown(keyId) {
  return Boolean(shownKeyId) && shownKeyId === keyId;
}

export function hideNewKey() {
  el.secret.value = '';
  shownKeyId = null;
  replace(el.secretName);
  replace(el.copyStatus);
  delete el.copyStatus.dataset.state;
  el.reveal.hidden = true;
}

export function showNewKey(created) {
  shownKeyId = created.keyId || null;
  el.secret.value = String(created.apiKey || '');
  replace(el.secretName, created.name ? `“${created.name}”` : '');
  replace(el.copyStatus);
  delete el.copyStatus.dataset.state;
  el.reveal.hidden = false;
  el.secret.focus();
  el.secret.select();
}

el.copy.addEventListener('click', async () => {
  const value = el.secret.value;
  if (!value) return;
  let copied = false;
  try {
    await navigator.clipboard.writeText(value); // secure contexts only (https, or loopback)
    copied = true;
  } catch {
    // No clipboard access: select the text so that Ctrl+C / ⌘C copies it.
    el.secret.focus();
    el.secret.select();
  }
  el.copyStatus.dataset.state = copied ? 'copied' : 'selected';
  replace(el.copyStatus, copied ? 'Copied to the clipboard.'
    : 'Could not copy automatically: the key is selected, press Ctrl+C (⌘C on a Mac).');
});

el.done.addEventListener('click', () => {
  hideNewKey();
  el.name.focus();
});

// Leaving the page (reload, navigation, the back/forward cache) takes the shown key with it.
window.addEventListener('pagehide', hideNewKey);
