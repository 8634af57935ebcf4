// The signed-in user's API keys for scripts and servers: list, create and revoke them.
import { api, ApiError, showError } from '../api.js';
import { h, replace, $, formatTime } from '../dom.js';
import { state, announce } from './state.js';
import { showNewKey, hideNewKey, isShown } from './api-key-reveal.js';

const el = {
  form: $('#api-key-form'),
  name: $('#api-key-name'),
  scopes: [$('#api-key-scope-generate'), $('#api-key-scope-read')],
  expires: $('#api-key-expires'),
  create: $('#api-key-create'),
  error: $('#api-key-error'),
  list: $('#api-key-list'),
  listError: $('#api-keys-list-error'),
};

let keysEpoch = 0;   // bumps when the signed-in user changes: answers for the previous one are dropped
let keysListSeq = 0; // the newest listApiKeys wins

/** Forget everything the panel shows (sign-out, another user). */
export function resetApiKeys() {
  keysEpoch += 1;
  keysListSeq += 1;
  hideNewKey();
  replace(el.list);
  replace(el.error);
  replace(el.listError);
  el.list.removeAttribute('aria-busy');
  el.name.value = '';
  el.name.removeAttribute('aria-invalid');
  resetOptions();
  el.create.disabled = false;
  el.create.textContent = 'Create key';
}

export async function loadApiKeys() {
  if (!state.session) return;
  const epoch = keysEpoch;
  const seq = ++keysListSeq;
  const current = () => epoch === keysEpoch && seq === keysListSeq;
  el.list.setAttribute('aria-busy', 'true');
  try {
    const data = await api('listApiKeys');
    if (!current()) return;
    replace(el.listError);
    const keys = Array.isArray(data.apiKeys) ? data.apiKeys : [];
    replace(el.list, keys.length ? keys.map(renderApiKey)
      : h('li', { class: 'empty', 'data-testid': 'api-keys-empty' }, 'No API keys yet.'));
  } catch (err) {
    if (!current()) return;
    showError(el.listError, err, 'Could not load your API keys: ');
  } finally {
    if (current()) el.list.removeAttribute('aria-busy');
  }
}

/** The scopes and expiry chosen in the form back to their defaults: both scopes, no expiry. */
function resetOptions() {
  for (const box of el.scopes) box.checked = true;
  el.expires.value = '';
  el.expires.removeAttribute('aria-invalid');
}

/** Keys created before scopes existed may do everything. */
function scopesOf(key) {
  return Array.isArray(key.scopes) ? key.scopes.map(String) : ['generate', 'read'];
}

function keyState(key) {
  if (key.revokedAt) return ['revoked', 'Revoked'];
  if (key.expiresAt && Date.parse(key.expiresAt) <= Date.now()) return ['expired', 'Expired'];
  return ['active', 'Active'];
}

function renderApiKey(key) {
  const [status, label] = keyState(key);
  const revoked = status === 'revoked';
  const name = key.name ? String(key.name) : '(unnamed)';
  const scopes = scopesOf(key);
  const meta = [
    ['Scopes', h('span', { class: 'api-key-scope-list', 'data-testid': 'api-key-scopes-shown' },
      scopes.length ? scopes.map((s) => h('code', { 'data-scope': s }, s)) : 'none')],
    ['Created', formatTime(key.createdAt)],
    ['Expires', h('span', { 'data-testid': 'api-key-expiry' }, key.expiresAt ? formatTime(key.expiresAt) : 'Never')],
    ['Last used', key.lastUsedAt ? formatTime(key.lastUsedAt) : 'Never'],
  ];
  if (revoked) meta.push(['Revoked', formatTime(key.revokedAt)]);
  return h('li', {
    class: `api-key${status === 'active' ? '' : ' api-key-revoked'}`,
    'data-testid': 'api-key-item',
    'data-key-id': key.keyId,
    'data-state': status,
    'data-scopes': scopes.join(' '),
  },
  h('div', { class: 'api-key-head' },
    h('span', { class: 'api-key-name', 'data-testid': 'api-key-item-name' }, name),
    h('span', { class: `badge badge-${status}`, 'data-testid': 'api-key-state' }, label),
    revoked ? null : h('button', {
      type: 'button',
      class: 'btn btn-ghost btn-small btn-revoke',
      'data-testid': 'api-key-revoke',
      'aria-label': `Revoke API key ${name}`,
      onclick: (event) => revokeApiKey(key, name, event.currentTarget),
    }, 'Revoke')),
  h('code', { class: 'api-key-prefix', 'data-testid': 'api-key-prefix', title: 'How the key starts' },
    displayPrefix(key.prefix)),
  h('dl', { class: 'kv api-key-meta' }, meta.flatMap(([k, v]) => [h('dt', null, k), h('dd', null, v)])));
}

/** The start of a key as listed ("fsk_3kT9aQ…"; the API sends it with its ellipsis). */
function displayPrefix(prefix) {
  const text = String(prefix ?? '');
  return /(…|\.\.\.)$/.test(text) ? text : `${text}…`;
}

async function revokeApiKey(key, name, button) {
  const epoch = keysEpoch;
  // eslint-disable-next-line no-alert
  if (!window.confirm(`Revoke the API key “${name}” (${displayPrefix(key.prefix)})?\n\n`
    + 'Every script or server that uses it gets 401 from its next call. This cannot be undone.')) return;
  replace(el.error);
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  button.textContent = 'Revoking…';
  try {
    await api('revokeApiKey', { method: 'POST', body: { keyId: key.keyId } });
    if (epoch !== keysEpoch) return;
    if (isShown(key.keyId)) hideNewKey();
    announce(`API key “${name}” revoked.`);
  } catch (err) {
    if (epoch !== keysEpoch) return;
    showError(el.error, err, 'Revoke failed: ');
  }
  await loadApiKeys(); // re-renders the list (and its buttons) either way
}

el.form.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (!state.session || el.create.disabled) return;
  replace(el.error);
  el.name.removeAttribute('aria-invalid');
  el.expires.removeAttribute('aria-invalid');
  const name = el.name.value.trim();
  if (!name) {
    el.name.setAttribute('aria-invalid', 'true');
    replace(el.error, 'Enter a name for the key.');
    el.name.focus();
    return;
  }
  const scopes = el.scopes.filter((box) => box.checked).map((box) => box.value);
  if (!scopes.length) {
    replace(el.error, 'Choose at least one scope for the key.');
    el.scopes[0].focus();
    return;
  }
  const body = { name, scopes };
  const days = el.expires.value.trim();
  if (days) {
    const n = Number(days);
    if (!Number.isInteger(n) || n < 1 || n > 365) {
      el.expires.setAttribute('aria-invalid', 'true');
      replace(el.error, 'The expiry is a whole number of days from 1 to 365, or empty for none.');
      el.expires.focus();
      return;
    }
    body.expiresInDays = n;
  }
  const epoch = keysEpoch;
  el.create.disabled = true;
  el.create.textContent = 'Creating…';
  try {
    const created = await api('createApiKey', { method: 'POST', body });
    if (epoch !== keysEpoch) return;
    el.name.value = '';
    resetOptions();
    showNewKey(created);
    announce(`API key “${created.name || name}” created. Copy it now: it will not be shown again.`);
    loadApiKeys();
  } catch (err) {
    if (epoch !== keysEpoch) return;
    showError(el.error, err);
    if (err instanceof ApiError && err.details.some((d) => d?.field === 'name')) el.name.setAttribute('aria-invalid', 'true');
    if (err instanceof ApiError && err.details.some((d) => d?.field === 'expiresInDays')) el.expires.setAttribute('aria-invalid', 'true');
  } finally {
    if (epoch === keysEpoch) {
      el.create.disabled = false;
      el.create.textContent = 'Create key';
    }
  }
});
