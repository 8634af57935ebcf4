import {
  api, ApiError, describeError, getSettings, saveSettings, getBaseUrl, normaliseBaseUrl, showError, showApiBase, LOCAL_BASE,
  runWeeklyReport, ADMIN_TIMEOUT_MS, setIdTokenSource, setAuthFailureHandler,
} from './api.js';
import { startFirebase, watchUserRequests } from './session.js';
import {
  h, replace, $, formatTime, formatNumber, humanize, isSafeRemoteUrl, initTheme, cssToken, storageGet, storageSet,
} from './dom.js';

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);
// A request can be cancelled (its credits refunded) until a worker finishes it.
const CANCELLABLE = new Set(['queued', 'processing']);
const POLL_START_MS = 500;
const POLL_MAX_MS = 8000;
const TX_PAGE = 20;
const REQUESTS_PAGE = 20;
const USER_KEY = 'feraset.userId';

const state = {
  users: [],
  userId: '',
  catalog: null,
  requests: new Map(),   // generationRequestId -> request record
  pollers: new Map(),    // generationRequestId -> timeout id
  cancelling: new Set(), // generationRequestIds whose cancellation is on its way
  txCursor: null,
  firebase: null,        // {fb, auth, db} once the SDK has started; null while loading or when it failed
  session: null,         // {uid, email, admin} while signed in; null in the open (signed-out) mode
  unwatch: null,         // unsubscribes the live listener on the signed-in user's requests
  epoch: 0,              // bumps on every user switch; stale per-user async results are dropped
  envEpoch: 0,           // bumps on every (re)boot: environment change or seed
};

const el = {
  userSelect: $('#user-select'),
  usersError: $('#users-error'),
  credits: $('#credits-value'),
  txList: $('#tx-list'),
  txMore: $('#tx-more'),
  txError: $('#tx-error'),
  form: $('#request-form'),
  model: $('#field-model'),
  style: $('#field-style'),
  color: $('#field-color'),
  size: $('#field-size'),
  prompt: $('#field-prompt'),
  swatches: $('#color-swatches'),
  cost: $('#cost-value'),
  submit: $('#submit-button'),
  formError: $('#form-error'),
  catalogStatus: $('#catalog-status'),
  requestList: $('#request-list'),
  requestsError: $('#requests-error'),
  requestsRefresh: $('#requests-refresh'),
  seed: $('#seed-button'),
  report: $('#report-button'),
  adminResult: $('#admin-result'),
  globalStatus: $('#global-status'),
  envForm: $('#env-form'),
  envSummary: $('#env-summary'),
  envBaseUrl: $('#env-base-url'),
  envAdminKey: $('#env-admin-key'),
  envError: $('#env-error'),
  apiBase: $('#api-base'),
  signinCard: $('#signin-card'),
  signinForm: $('#signin-form'),
  signinEmail: $('#signin-email'),
  signinPassword: $('#signin-password'),
  signinButton: $('#signin-button'),
  signinError: $('#signin-error'),
  signinStatus: $('#signin-status'),
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
  keyForm: $('#api-key-form'),
  keyName: $('#api-key-name'),
  keyCreate: $('#api-key-create'),
  keyError: $('#api-key-error'),
  keyReveal: $('#api-key-reveal'),
  keySecret: $('#api-key-secret'),
  keySecretName: $('#api-key-secret-name'),
  keyCopy: $('#api-key-copy'),
  keyCopyStatus: $('#api-key-copy-status'),
  keyDone: $('#api-key-done'),
  keyList: $('#api-key-list'),
  keyListError: $('#api-keys-list-error'),
};

// ---------------------------------------------------------------- helpers
function announce(text) {
  replace(el.globalStatus, text || '');
}

function pluralCredits(n) {
  return `${n} credit${n === 1 ? '' : 's'}`;
}

// ---------------------------------------------------------------- environment
function renderEnv() {
  const settings = getSettings();
  for (const radio of el.envForm.elements.env) radio.checked = radio.value === settings.env;
  el.envBaseUrl.value = settings.productionBaseUrl;
  el.envAdminKey.value = settings.adminKey;
  const base = getBaseUrl();
  el.envSummary.textContent = settings.env === 'production' && base !== LOCAL_BASE ? `Production (${base})` : 'Local emulator';
  showApiBase(el.apiBase);
}

el.envForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const env = el.envForm.elements.env.value === 'production' ? 'production' : 'local';
  const rawBase = el.envBaseUrl.value.trim();
  if (env === 'production' && !normaliseBaseUrl(rawBase)) {
    el.envError.textContent = 'Not saved: the base URL must be an https URL without query string, '
      + 'e.g. https://feraset-imagen.web.app/api (plain http only for 127.0.0.1, localhost or [::1]). '
      + 'The previous setting is kept.';
    el.envBaseUrl.setAttribute('aria-invalid', 'true');
    return;
  }
  el.envBaseUrl.removeAttribute('aria-invalid');
  el.envError.textContent = '';
  saveSettings({
    env,
    productionBaseUrl: normaliseBaseUrl(rawBase) || rawBase,
    adminKey: el.envAdminKey.value.trim(),
  });
  renderEnv();
  announce(`Environment saved: ${el.envSummary.textContent}`);
  boot();
});

// ---------------------------------------------------------------- users
async function loadUsers() {
  const epoch = state.envEpoch;
  el.userSelect.disabled = true;
  replace(el.usersError);
  try {
    const data = await api('listUsers', { admin: true });
    if (epoch !== state.envEpoch) return;
    state.users = Array.isArray(data.users) ? data.users : [];
  } catch (err) {
    if (epoch !== state.envEpoch) return;
    state.users = [];
    showError(el.usersError, err);
  }
  const previous = state.userId || storageGet(localStorage, USER_KEY) || '';
  const options = [h('option', { value: '' }, state.users.length ? 'Choose a user…' : 'No users (seed the database)')];
  for (const user of state.users) {
    options.push(h('option', { value: user.userId, title: user.email || undefined }, userLabel(user)));
  }
  replace(el.userSelect, options);
  el.userSelect.disabled = state.users.length === 0;
  const keep = state.users.some((u) => u.userId === previous) ? previous : '';
  el.userSelect.value = keep;
  await selectUser(keep);
}

el.userSelect.addEventListener('change', () => {
  selectUser(el.userSelect.value);
});

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
  replace(el.requestList);
  replace(el.txList);
  replace(el.txError);
  replace(el.requestsError);
  hideFormError();
  el.txMore.hidden = true;
  el.credits.textContent = '—';
  updateSubmitState();
  if (!userId) return;
  if (state.session) {
    watchRequests(userId);
    await loadCredits({ reset: true });
  } else {
    await Promise.all([loadCredits({ reset: true }), loadRequests()]);
  }
}

// ---------------------------------------------------------------- credits + history
async function loadCredits({ reset }) {
  const userId = state.userId;
  const epoch = state.epoch;
  if (!userId) return;
  const query = { userId, limit: TX_PAGE };
  if (!reset && state.txCursor) query.cursor = state.txCursor;
  el.txMore.disabled = true;
  el.credits.setAttribute('aria-busy', 'true');
  try {
    const data = await api('getUserCredits', { query });
    if (epoch !== state.epoch) return;
    replace(el.txError);
    el.credits.textContent = String(data.currentCredits);
    el.credits.dataset.value = String(data.currentCredits);
    const items = (Array.isArray(data.transactions) ? data.transactions : []).map(renderTransaction);
    if (reset) replace(el.txList, items);
    else el.txList.append(...items);
    if (reset && items.length === 0) el.txList.append(h('li', { class: 'empty' }, 'No transactions yet.'));
    state.txCursor = data.nextCursor || null;
    el.txMore.hidden = !state.txCursor;
    updateUserOptionCredits(userId, data.currentCredits);
  } catch (err) {
    if (epoch !== state.epoch) return;
    showError(el.txError, err);
  } finally {
    if (epoch === state.epoch) {
      el.txMore.disabled = false;
      el.credits.removeAttribute('aria-busy');
    }
  }
}

function userLabel(user) {
  const name = user.name && user.name !== user.userId ? user.name : '';
  return name ? `${user.userId} — ${name}` : String(user.userId);
}

function updateUserOptionCredits(userId, credits) {
  const user = state.users.find((u) => u.userId === userId);
  if (user) user.current_credits = credits;
}

function renderTransaction(tx) {
  const isRefund = tx.type === 'refund';
  const amount = Number(tx.credits) || 0;
  return h('li', { class: `tx tx-${isRefund ? 'refund' : 'deduction'}`, 'data-testid': 'tx-item', 'data-type': tx.type || '' },
    h('span', { class: 'tx-amount', 'aria-label': `${isRefund ? 'Refund' : 'Deduction'} of ${pluralCredits(amount)}` },
      `${isRefund ? '+' : '−'}${amount}`),
    h('span', { class: 'tx-body' },
      h('span', { class: 'tx-desc' }, tx.description || humanize(tx.type || 'transaction')),
      h('span', { class: 'tx-meta' },
        h('time', { datetime: tx.timestamp || '' }, formatTime(tx.timestamp)),
        tx.generation_request_id ? ` · ${shortId(tx.generation_request_id)}` : '')));
}

function shortId(id) {
  const str = String(id);
  return str.length > 12 ? `${str.slice(0, 8)}…` : str;
}

el.txMore.addEventListener('click', () => loadCredits({ reset: false }));

// ---------------------------------------------------------------- catalog + form
async function loadCatalog() {
  const epoch = state.envEpoch;
  el.catalogStatus.textContent = 'Loading catalog…';
  for (const select of [el.model, el.style, el.color, el.size]) select.disabled = true;
  try {
    const catalog = await api('getCatalog');
    if (epoch !== state.envEpoch) return;
    state.catalog = catalog;
    fillSelect(el.model, (catalog.models || []).map((m) => ({ value: String(m), label: String(m) })));
    fillSelect(el.style, (catalog.styles || []).map((st) => ({ value: st.id, label: st.display_name || st.id, title: st.description })));
    fillSelect(el.color, (catalog.colors || []).map((c) => ({ value: c.id, label: c.display_name || c.id })));
    fillSelect(el.size, (catalog.sizes || []).map((z) => ({
      value: z.id,
      label: `${z.display_name || z.id} — ${pluralCredits(Number(z.credit_cost))}`,
    })));
    el.catalogStatus.textContent = '';
    renderSwatches();
    renderCost();
  } catch (err) {
    if (epoch !== state.envEpoch) return;
    state.catalog = null;
    el.catalogStatus.textContent = `Catalog unavailable: ${describeError(err).message}`;
  }
  updateSubmitState();
}

function fillSelect(select, options) {
  const previous = select.value;
  replace(select, options.map((o) => h('option', { value: o.value, title: o.title || undefined }, o.label)));
  if (options.some((o) => o.value === previous)) select.value = previous;
  select.disabled = options.length === 0;
}

function selectedSize() {
  return (state.catalog?.sizes || []).find((z) => z.id === el.size.value) || null;
}

function renderCost() {
  const size = selectedSize();
  el.cost.textContent = size ? pluralCredits(Number(size.credit_cost)) : '—';
}

function renderSwatches() {
  const color = (state.catalog?.colors || []).find((c) => c.id === el.color.value);
  const hexes = Array.isArray(color?.hex_examples) ? color.hex_examples : [];
  replace(el.swatches, hexes
    .filter((hex) => typeof hex === 'string' && /^#[0-9a-f]{3,8}$/i.test(hex))
    .map((hex) => h('span', { class: 'swatch', title: hex, style: { 'background-color': hex } })));
}

el.size.addEventListener('change', renderCost);
el.color.addEventListener('change', renderSwatches);

function updateSubmitState() {
  el.submit.disabled = !(state.userId && state.catalog) || el.submit.dataset.busy === 'true';
}

function hideFormError() {
  el.formError.hidden = true;
  replace(el.formError);
  for (const field of [el.model, el.style, el.color, el.size, el.prompt]) field.removeAttribute('aria-invalid');
}

function showFormError(err) {
  showError(el.formError, err);
  el.formError.hidden = false;
  el.formError.dataset.status = err instanceof ApiError ? String(err.status) : '';
  if (err instanceof ApiError) {
    const byName = { model: el.model, style: el.style, color: el.color, size: el.size, prompt: el.prompt };
    for (const d of err.details) if (d && byName[d.field]) byName[d.field].setAttribute('aria-invalid', 'true');
  }
}

el.form.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (el.submit.disabled) return;
  hideFormError();
  const userId = state.userId;
  const epoch = state.epoch;
  const payload = {
    userId,
    model: el.model.value,
    style: el.style.value,
    color: el.color.value,
    size: el.size.value,
    prompt: el.prompt.value.trim(),
  };
  if (!payload.prompt) {
    el.prompt.setAttribute('aria-invalid', 'true');
    replace(el.formError, 'Please enter a prompt.');
    el.formError.hidden = false;
    el.prompt.focus();
    return;
  }
  el.submit.dataset.busy = 'true';
  el.submit.textContent = 'Submitting…';
  updateSubmitState();
  try {
    const data = await api('createGenerationRequest', {
      method: 'POST',
      body: payload,
      headers: { 'Idempotency-Key': crypto.randomUUID() },
    });
    if (epoch !== state.epoch) return;
    const now = new Date().toISOString();
    const record = {
      generationRequestId: data.generationRequestId,
      status: data.status || 'queued',
      model: payload.model,
      style: payload.style,
      color: payload.color,
      size: payload.size,
      prompt: payload.prompt,
      imageUrl: data.imageUrl ?? null,
      error_message: null,
      progress: data.status === 'queued' ? 10 : 0,
      credits_deducted: data.deductedCredits,
      created_at: now,
      updated_at: now,
      completed_at: null,
    };
    // Signed in, the live listener may have shown it already (and further on than "queued").
    if (!state.requests.has(record.generationRequestId)) {
      upsertRequest(record, { prepend: true });
      if (state.unwatch) sortRequestList();
    }
    announce(`Request ${shortId(record.generationRequestId)} queued; ${pluralCredits(Number(data.deductedCredits) || 0)} deducted.`);
    if (!state.unwatch) startPolling(record.generationRequestId);
    loadCredits({ reset: true });
  } catch (err) {
    if (epoch !== state.epoch) return;
    showFormError(err);
    if (err instanceof ApiError && (err.status === 402 || err.status === 503)) loadCredits({ reset: true });
    if (err instanceof ApiError && err.status === 503 && err.body?.generationRequestId && !state.unwatch) loadRequests();
  } finally {
    el.submit.dataset.busy = 'false';
    el.submit.textContent = 'Generate';
    updateSubmitState();
  }
});

// ---------------------------------------------------------------- requests
async function loadRequests() {
  const userId = state.userId;
  const epoch = state.epoch;
  if (!userId) return;
  el.requestList.setAttribute('aria-busy', 'true');
  try {
    const data = await api('listGenerationRequests', { query: { userId, limit: 20 } });
    if (epoch !== state.epoch) return;
    replace(el.requestsError);
    const list = Array.isArray(data.requests) ? data.requests : [];
    // Server order is newest first; append in that order after any locally-created ones already shown.
    for (const record of list) upsertRequest(record, { prepend: false });
    sortRequestList();
    for (const record of list) if (!TERMINAL.has(record.status)) startPolling(record.generationRequestId);
    if (state.requests.size === 0) replace(el.requestList, h('li', { class: 'empty', 'data-testid': 'requests-empty' }, 'No requests yet.'));
  } catch (err) {
    if (epoch !== state.epoch) return;
    showError(el.requestsError, err);
  } finally {
    if (epoch === state.epoch) el.requestList.removeAttribute('aria-busy');
  }
}

el.requestsRefresh.addEventListener('click', () => {
  if (!state.unwatch) loadRequests(); // the live listener keeps the list current on its own
  loadCredits({ reset: true });
});

// ---------------------------------------------------------------- live requests (signed in)
// Signed in, the list follows the user's newest requests through a Firestore listener instead
// of polling getGenerationStatus; the balance is re-read when one of them settles.
function watchRequests(uid) {
  stopWatching();
  const epoch = state.epoch;
  let first = true;
  el.requestList.setAttribute('aria-busy', 'true');
  state.unwatch = watchUserRequests(state.firebase, uid, REQUESTS_PAGE, (changes) => {
    if (epoch !== state.epoch) return;
    el.requestList.removeAttribute('aria-busy');
    replace(el.requestsError);
    let settled = 0;
    for (const { type, record } of changes) {
      if (type === 'removed') continue; // left the newest-20 window: keep showing it
      const previous = state.requests.get(record.generationRequestId)?.status;
      if (!first && TERMINAL.has(record.status) && !TERMINAL.has(previous)) {
        settled += 1;
        if (previous) announce(`Request ${shortId(record.generationRequestId)} ${record.status}.`);
      }
      upsertRequest(record, { prepend: false });
    }
    sortRequestList();
    first = false;
    if (state.requests.size === 0) replace(el.requestList, h('li', { class: 'empty', 'data-testid': 'requests-empty' }, 'No requests yet.'));
    if (settled) loadCredits({ reset: true });
  }, (err) => {
    if (epoch !== state.epoch) return;
    // The listener is gone (rules, a missing index, the connection): fall back to polling.
    state.unwatch = null;
    el.requestList.removeAttribute('aria-busy');
    replace(el.requestsError, `Live updates unavailable (${err?.code || err?.message || 'error'}); polling instead.`);
    loadRequests();
  });
}

function stopWatching() {
  if (state.unwatch) state.unwatch();
  state.unwatch = null;
}

function sortRequestList() {
  const items = [...el.requestList.querySelectorAll('[data-testid="request-item"]')];
  items.sort((a, b) => (b.dataset.created || '').localeCompare(a.dataset.created || ''));
  for (const item of items) el.requestList.append(item);
}

function upsertRequest(partial, { prepend }) {
  const id = partial.generationRequestId;
  if (!id) return;
  const existing = state.requests.get(id) || {};
  const record = { ...existing };
  for (const [k, v] of Object.entries(partial)) if (v !== undefined) record[k] = v;
  state.requests.set(id, record);
  const node = renderRequest(record);
  const current = el.requestList.querySelector(`[data-request-id="${CSS.escape(id)}"]`);
  // Every update re-renders the item: a focused control in it keeps the focus.
  const focused = current?.contains(document.activeElement) ? document.activeElement.dataset.testid : null;
  el.requestList.querySelector('.empty')?.remove();
  if (current) current.replaceWith(node);
  else if (prepend) el.requestList.prepend(node);
  else el.requestList.append(node);
  if (focused) node.querySelector(`[data-testid="${CSS.escape(focused)}"]`)?.focus();
}

/** The part of a getGenerationStatus body (or of cancelGenerationRequest's) a request item shows. */
function statusPatch(id, data) {
  return {
    generationRequestId: id,
    status: data.status,
    imageUrl: data.imageUrl ?? null,
    error_message: data.error_message ?? null,
    progress: data.progress,
    created_at: data.created_at,
    updated_at: data.updated_at,
    completed_at: data.completed_at ?? null,
  };
}

function statusLabel(status) {
  return humanize(status || 'unknown');
}

function renderRequest(r) {
  const status = r.status || 'unknown';
  const progress = Math.max(0, Math.min(100, Number(r.progress) || 0));
  const createdIso = normaliseIso(r.created_at);
  return h('li', {
    class: `request status-${cssToken(status)}`,
    'data-testid': 'request-item',
    'data-status': status,
    'data-request-id': r.generationRequestId,
    'data-created': createdIso,
  },
  h('div', { class: 'request-head' },
    h('span', { class: `badge badge-${cssToken(status)}`, 'data-testid': 'request-status' }, statusLabel(status)),
    h('span', { class: 'request-params' }, [r.model, r.style, r.color, r.size].filter(Boolean).join(' · ')),
    h('time', { class: 'request-time', datetime: r.created_at || '' }, formatTime(r.created_at)),
    CANCELLABLE.has(status) ? renderCancelButton(r.generationRequestId) : null),
  r.prompt ? h('p', { class: 'request-prompt' }, r.prompt) : null,
  h('div', { class: 'progress-row' },
    h('progress', {
      max: '100', value: String(progress), 'data-testid': 'request-progress',
      'aria-label': `Progress of request ${shortId(r.generationRequestId)}`,
    }),
    h('span', { class: 'progress-text' }, `${formatNumber(progress, 0)}%`)),
  status === 'completed' ? renderImage(r) : null,
  r.error_message ? h('div', { class: 'request-error', 'data-testid': 'request-error' }, r.error_message) : null,
  r.cancel_error ? h('div', { class: 'request-error', role: 'alert', 'data-testid': 'request-cancel-error' }, r.cancel_error) : null,
  h('div', { class: 'request-meta' },
    h('span', null, `ID ${r.generationRequestId}`),
    r.credits_deducted !== undefined && r.credits_deducted !== null ? h('span', null, pluralCredits(Number(r.credits_deducted))) : null,
    r.completed_at ? h('span', null, `Finished ${formatTime(r.completed_at)}`) : null,
    state.pollers.has(r.generationRequestId) && !TERMINAL.has(status) ? h('span', { class: 'polling' }, 'watching…') : null));
}

function renderCancelButton(id) {
  const busy = state.cancelling.has(id);
  return h('button', {
    type: 'button',
    class: 'btn btn-ghost btn-small btn-cancel',
    'data-testid': 'request-cancel',
    'aria-label': `Cancel request ${shortId(id)}`,
    'aria-busy': busy ? 'true' : null,
    disabled: busy,
    onclick: () => cancelRequest(id),
  }, busy ? 'Cancelling…' : 'Cancel');
}

// A completed request's picture: a lazy thumbnail that opens the full image. Requests without a
// stored image (the seeded history never ran a model) say so instead of showing a broken image,
// and so does a thumbnail whose download fails.
function renderImage(r) {
  const noImage = (text) => h('div', { class: 'request-result no-image', 'data-testid': 'request-no-image' }, text);
  if (!isSafeRemoteUrl(r.imageUrl)) return noImage('No image stored');
  const [width, height] = String(r.size || '').split('x').map(Number);
  const img = h('img', {
    src: r.imageUrl,
    alt: r.prompt ? `Generated image: ${r.prompt}` : 'Generated image',
    loading: 'lazy',
    decoding: 'async',
    width: Number.isInteger(width) ? width : null,
    height: Number.isInteger(height) ? height : null,
    class: 'thumb',
    'data-testid': 'request-image',
  });
  const link = h('a', {
    href: r.imageUrl, target: '_blank', rel: 'noopener noreferrer', class: 'image-link',
    'data-testid': 'request-image-link', title: 'Open the full image',
  }, img);
  img.addEventListener('error', () => link.replaceWith(noImage('Image unavailable')), { once: true });
  return h('div', { class: 'request-result' }, link);
}

function normaliseIso(value) {
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

// ---------------------------------------------------------------- polling with exponential backoff
function startPolling(id) {
  if (state.pollers.has(id)) return;
  schedulePoll(id, POLL_START_MS, state.epoch);
}

function schedulePoll(id, delay, epoch) {
  const timer = setTimeout(() => poll(id, delay, epoch), delay);
  state.pollers.set(id, timer);
}

function stopPolling(id) {
  const timer = state.pollers.get(id);
  if (timer !== undefined) clearTimeout(timer);
  state.pollers.delete(id);
}

function stopAllPolling() {
  for (const timer of state.pollers.values()) clearTimeout(timer);
  state.pollers.clear();
}

async function poll(id, delay, epoch) {
  if (epoch !== state.epoch || !state.pollers.has(id)) return;
  const next = Math.min(delay * 2, POLL_MAX_MS);
  try {
    const data = await api('getGenerationStatus', { query: { generationRequestId: id } });
    if (epoch !== state.epoch || !state.pollers.has(id)) return;
    const terminal = TERMINAL.has(data.status);
    if (terminal) state.pollers.delete(id);
    upsertRequest(statusPatch(id, data), { prepend: true });
    if (terminal) {
      announce(`Request ${shortId(id)} ${data.status}.`);
      loadCredits({ reset: true });
      return;
    }
    schedulePoll(id, next, epoch);
  } catch (err) {
    if (epoch !== state.epoch || !state.pollers.has(id)) return;
    if (err instanceof ApiError && err.status === 404) {
      stopPolling(id);
      upsertRequest({ generationRequestId: id, status: 'not_found', error_message: describeError(err).message, progress: 0 }, { prepend: false });
      return;
    }
    schedulePoll(id, next, epoch); // transient: keep backing off
  }
}

// ---------------------------------------------------------------- cancellation
async function cancelRequest(id) {
  const epoch = state.epoch;
  if (state.cancelling.has(id) || !state.requests.has(id)) return;
  state.cancelling.add(id);
  upsertRequest({ generationRequestId: id, cancel_error: null }, { prepend: false }); // shows the busy button
  try {
    const data = await api('cancelGenerationRequest', { method: 'POST', body: { generationRequestId: id } });
    if (epoch !== state.epoch) return;
    stopPolling(id); // an answer to a poll already on its way is dropped
    state.cancelling.delete(id);
    upsertRequest(statusPatch(id, data), { prepend: false });
    announce(`Request ${shortId(id)} cancelled; ${pluralCredits(Number(data.refundedCredits) || 0)} refunded.`);
    loadCredits({ reset: true });
  } catch (err) {
    if (epoch !== state.epoch) return;
    state.cancelling.delete(id);
    upsertRequest({ generationRequestId: id, cancel_error: describeError(err).message }, { prepend: false });
    // 409 not_cancellable: a worker finished it first; show where it ended up (signed in, the
    // live listener does).
    if (err instanceof ApiError && err.status === 409 && !state.unwatch) refreshRequest(id);
  }
}

/** One getGenerationStatus for `id`, outside the polling schedule. */
async function refreshRequest(id) {
  const epoch = state.epoch;
  try {
    const data = await api('getGenerationStatus', { query: { generationRequestId: id } });
    if (epoch !== state.epoch) return;
    const terminal = TERMINAL.has(data.status);
    if (terminal) stopPolling(id);
    upsertRequest(statusPatch(id, data), { prepend: false });
    if (terminal) loadCredits({ reset: true });
  } catch {
    // The poller (if any) keeps trying; the item already shows the cancellation's error.
  }
}

// ---------------------------------------------------------------- API keys (signed in)
// Personal API keys for scripts and servers. A new key is shown once: it lives only in the
// read-only field's value (never in `state`, storage or a log message) until the user hides it,
// signs out, another user signs in or the page goes away.
let keysEpoch = 0;   // bumps when the signed-in user changes: answers for the previous one are dropped
let keysListSeq = 0; // the newest listApiKeys wins
let revealedKeyId = null;

/** Forget everything the panel shows (sign-out, another user). */
function resetApiKeys() {
  keysEpoch += 1;
  keysListSeq += 1;
  hideNewKey();
  replace(el.keyList);
  replace(el.keyError);
  replace(el.keyListError);
  el.keyList.removeAttribute('aria-busy');
  el.keyName.value = '';
  el.keyName.removeAttribute('aria-invalid');
  el.keyCreate.disabled = false;
  el.keyCreate.textContent = 'Create key';
}

function hideNewKey() {
  el.keySecret.value = '';
  revealedKeyId = null;
  replace(el.keySecretName);
  replace(el.keyCopyStatus);
  delete el.keyCopyStatus.dataset.state;
  el.keyReveal.hidden = true;
}

function showNewKey(created) {
  revealedKeyId = created.keyId || null;
  el.keySecret.value = String(created.apiKey || '');
  replace(el.keySecretName, created.name ? `“${created.name}”` : '');
  replace(el.keyCopyStatus);
  delete el.keyCopyStatus.dataset.state;
  el.keyReveal.hidden = false;
  el.keySecret.focus();
  el.keySecret.select();
}

async function loadApiKeys() {
  if (!state.session) return;
  const epoch = keysEpoch;
  const seq = ++keysListSeq;
  const current = () => epoch === keysEpoch && seq === keysListSeq;
  el.keyList.setAttribute('aria-busy', 'true');
  try {
    const data = await api('listApiKeys');
    if (!current()) return;
    replace(el.keyListError);
    const keys = Array.isArray(data.apiKeys) ? data.apiKeys : [];
    replace(el.keyList, keys.length ? keys.map(renderApiKey)
      : h('li', { class: 'empty', 'data-testid': 'api-keys-empty' }, 'No API keys yet.'));
  } catch (err) {
    if (!current()) return;
    showError(el.keyListError, err, 'Could not load your API keys: ');
  } finally {
    if (current()) el.keyList.removeAttribute('aria-busy');
  }
}

function renderApiKey(key) {
  const revoked = Boolean(key.revokedAt);
  const name = key.name ? String(key.name) : '(unnamed)';
  const meta = [
    ['Created', formatTime(key.createdAt)],
    ['Last used', key.lastUsedAt ? formatTime(key.lastUsedAt) : 'Never'],
  ];
  if (revoked) meta.push(['Revoked', formatTime(key.revokedAt)]);
  return h('li', {
    class: `api-key${revoked ? ' api-key-revoked' : ''}`,
    'data-testid': 'api-key-item',
    'data-key-id': key.keyId,
    'data-state': revoked ? 'revoked' : 'active',
  },
  h('div', { class: 'api-key-head' },
    h('span', { class: 'api-key-name', 'data-testid': 'api-key-item-name' }, name),
    h('span', { class: `badge badge-${revoked ? 'revoked' : 'active'}`, 'data-testid': 'api-key-state' },
      revoked ? 'Revoked' : 'Active'),
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
  replace(el.keyError);
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  button.textContent = 'Revoking…';
  try {
    await api('revokeApiKey', { method: 'POST', body: { keyId: key.keyId } });
    if (epoch !== keysEpoch) return;
    if (revealedKeyId && revealedKeyId === key.keyId) hideNewKey();
    announce(`API key “${name}” revoked.`);
  } catch (err) {
    if (epoch !== keysEpoch) return;
    showError(el.keyError, err, 'Revoke failed: ');
  }
  await loadApiKeys(); // re-renders the list (and its buttons) either way
}

el.keyForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (!state.session || el.keyCreate.disabled) return;
  replace(el.keyError);
  el.keyName.removeAttribute('aria-invalid');
  const name = el.keyName.value.trim();
  if (!name) {
    el.keyName.setAttribute('aria-invalid', 'true');
    replace(el.keyError, 'Enter a name for the key.');
    el.keyName.focus();
    return;
  }
  const epoch = keysEpoch;
  el.keyCreate.disabled = true;
  el.keyCreate.textContent = 'Creating…';
  try {
    const created = await api('createApiKey', { method: 'POST', body: { name } });
    if (epoch !== keysEpoch) return;
    el.keyName.value = '';
    showNewKey(created);
    announce(`API key “${created.name || name}” created. Copy it now: it will not be shown again.`);
    loadApiKeys();
  } catch (err) {
    if (epoch !== keysEpoch) return;
    showError(el.keyError, err);
    if (err instanceof ApiError && err.details.some((d) => d?.field === 'name')) el.keyName.setAttribute('aria-invalid', 'true');
  } finally {
    if (epoch === keysEpoch) {
      el.keyCreate.disabled = false;
      el.keyCreate.textContent = 'Create key';
    }
  }
});

el.keyCopy.addEventListener('click', async () => {
  const value = el.keySecret.value;
  if (!value) return;
  let copied = false;
  try {
    await navigator.clipboard.writeText(value); // secure contexts only (https, or loopback)
    copied = true;
  } catch {
    // No clipboard access: select the text so that Ctrl+C / ⌘C copies it.
    el.keySecret.focus();
    el.keySecret.select();
  }
  el.keyCopyStatus.dataset.state = copied ? 'copied' : 'selected';
  replace(el.keyCopyStatus, copied ? 'Copied to the clipboard.'
    : 'Could not copy automatically: the key is selected, press Ctrl+C (⌘C on a Mac).');
});

el.keyDone.addEventListener('click', () => {
  hideNewKey();
  el.keyName.focus();
});

// Leaving the page (reload, navigation, the back/forward cache) takes the shown key with it.
window.addEventListener('pagehide', hideNewKey);

// ---------------------------------------------------------------- admin
function renderAdminResult(title, rows, extra) {
  replace(el.adminResult,
    h('p', { class: 'admin-title' }, title),
    rows.length ? h('dl', { class: 'kv' }, rows.flatMap(([k, v]) => [h('dt', null, k), h('dd', null, v)])) : null,
    extra || null);
}

async function runAdmin(button, label, fn) {
  button.disabled = true;
  const original = button.textContent;
  button.textContent = `${label}…`;
  el.adminResult.dataset.state = 'running';
  replace(el.adminResult, `${label}…`);
  try {
    await fn();
    el.adminResult.dataset.state = 'success';
  } catch (err) {
    el.adminResult.dataset.state = 'error';
    replace(el.adminResult, showError(h('div', { class: 'error-text', role: 'alert' }), err, `${label} failed: `));
  } finally {
    button.disabled = false;
    button.textContent = original;
  }
}

// What seed_database does, exactly: it touches only documents it wrote itself (marked seeded).
const SEED_CONFIRMATION = 'Seed the database?\n\n'
  + 'This resets the seed data only: the 6 styles, 5 colors and 3 sizes, the 13 seed users '
  + '(balances back to their seed values) and their fabricated request history.\n\n'
  + 'Nothing else is deleted or changed: other users, their requests and transactions, '
  + 'requests the seed users made themselves, reports and idempotency records stay as they are. '
  + 'A seed user whose document was not created by the seeder is left alone.\n\n'
  + 'Refused with "seed disabled" where the SEED_ENABLED param is false (the production default).';

el.seed.addEventListener('click', () => {
  // eslint-disable-next-line no-alert
  if (!window.confirm(SEED_CONFIRMATION)) return;
  runAdmin(el.seed, 'Seeding', async () => {
    const data = await api('seed_database', { method: 'POST', body: {}, admin: true, timeoutMs: ADMIN_TIMEOUT_MS });
    const counts = data.counts && typeof data.counts === 'object' ? data.counts : {};
    renderAdminResult(data.message || 'Database seeded.',
      Object.entries(counts).map(([k, v]) => [humanize(k), formatNumber(v)]));
    await boot({ keepAdminResult: true });
  });
});

el.report.addEventListener('click', () => {
  runAdmin(el.report, 'Running weekly report', async () => {
    const data = await runWeeklyReport();
    const summary = data.summary || {};
    const anomalies = data.anomaly_summary || {};
    const period = summary.report_period || data.report_data?.report_period || {};
    const rows = [
      ['Status', String(data.reportStatus ?? '—')],
      ['Period', period.start_date ? `${formatTime(period.start_date)} → ${formatTime(period.end_date)}` : '—'],
      ['Total requests', formatNumber(summary.total_requests)],
      ['Success rate', summary.success_rate !== undefined ? `${formatNumber(summary.success_rate, 2)}%` : '—'],
      ['Active users', formatNumber(summary.active_users)],
      ['Credits consumed', formatNumber(summary.credits_consumed)],
      ['Anomalies', `${formatNumber(anomalies.total_anomalies)} (${anomalies.severity_level ?? '—'})`],
    ];
    const reportId = data.report_data?.id;
    const href = reportId ? `report.html?reportId=${encodeURIComponent(reportId)}` : 'report.html';
    renderAdminResult('Weekly report generated.', rows,
      h('p', null, h('a', { href, 'data-testid': 'admin-report-link' }, 'View the report →')));
  });
});

// ---------------------------------------------------------------- boot
async function boot({ keepAdminResult = false } = {}) {
  state.envEpoch += 1;
  state.epoch += 1;
  stopAllPolling();
  stopWatching();
  if (!keepAdminResult) replace(el.adminResult);
  await Promise.all([loadCatalog(), state.session ? actAsSessionUser() : loadUsers(), loadApiKeys()]);
}

/** Signed in: no picker, the console acts as the signed-in uid. */
async function actAsSessionUser() {
  state.users = [];
  await selectUser(state.session.uid);
}

// ---------------------------------------------------------------- sign-in
function renderSession() {
  const session = state.session;
  el.sessionBar.hidden = !session;
  el.signinCard.hidden = Boolean(session);
  el.userPicker.hidden = Boolean(session);
  el.actingAs.hidden = !session;
  el.sessionEmail.textContent = session ? session.email : '';
  el.sessionAdmin.hidden = !session?.admin;
  el.actingAsUid.textContent = session ? session.uid : '';
  // Signed out (the open emulator mode) the admin tools stay as they were; signed in, only an
  // ID token with the admin claim gets them.
  el.adminCard.hidden = Boolean(session) && !session.admin;
  // A user's own API keys: signed in only (no key acts for an anonymous caller).
  el.keysCard.hidden = !session;
}

function showAuthPrompt(err) {
  const refused = err?.status === 403 ? 'refused this user (HTTP 403)' : 'asks for a signed-in user (HTTP 401)';
  replace(el.authPrompt, `The API ${refused}. Sign in to continue.`);
  el.authPrompt.hidden = false;
  el.signinCard.hidden = false;
}

function hideAuthPrompt() {
  el.authPrompt.hidden = true;
  replace(el.authPrompt);
}

// A 401 or 403 from a user call ends the polling (no retry loop) and asks for a sign-in.
setAuthFailureHandler((err) => {
  stopAllPolling();
  stopWatching();
  showAuthPrompt(err);
  if (!el.signinButton.disabled) el.signinEmail.focus({ preventScroll: true });
});

const SIGNIN_ERRORS = {
  'auth/invalid-credential': 'Wrong email or password.',
  'auth/invalid-email': 'That is not a valid email address.',
  'auth/user-not-found': 'Wrong email or password.',
  'auth/wrong-password': 'Wrong email or password.',
  'auth/too-many-requests': 'Too many attempts; try again later.',
  'auth/network-request-failed': 'The sign-in service could not be reached.',
  'auth/user-disabled': 'This account is disabled.',
};

el.signinForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (!state.firebase || el.signinButton.disabled) return;
  const email = el.signinEmail.value.trim();
  const password = el.signinPassword.value;
  replace(el.signinError);
  if (!email || !password) {
    replace(el.signinError, 'Enter your email and password.');
    return;
  }
  el.signinButton.disabled = true;
  el.signinButton.textContent = 'Signing in…';
  try {
    const { user } = await state.firebase.fb.signInWithEmailAndPassword(state.firebase.auth, email, password);
    el.signinPassword.value = '';
    // Signing in again as the same user (after a 401) changes no auth state: rebuild here.
    if (user.uid === state.session?.uid) applySession(user);
  } catch (err) {
    replace(el.signinError, SIGNIN_ERRORS[err?.code] || `Sign-in failed: ${err?.message || 'unknown error'}`);
  } finally {
    el.signinButton.disabled = false;
    el.signinButton.textContent = 'Sign in';
  }
});

el.signout.addEventListener('click', async () => {
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
});

/** The signed-in user changed (or the page found none): rebuild the console for it. */
let sessionSeq = 0;
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
  } else {
    if (state.session) {
      announce('Signed out.');
      state.userId = ''; // the picker comes back with its own last choice, not the signed-out uid
    }
    state.session = null;
  }
  if ((state.session?.uid ?? null) !== previousUid) resetApiKeys();
  renderSession();
  await boot();
}

async function startSession() {
  try {
    state.firebase = await startFirebase();
  } catch (err) {
    el.signinStatus.textContent = `Sign-in unavailable (${err?.message || 'the Firebase SDK did not load'}); `
      + 'the console works signed out.';
    boot();
    return;
  }
  const { auth, fb } = state.firebase;
  setIdTokenSource(() => (state.session && auth.currentUser ? auth.currentUser.getIdToken() : null));
  el.signinButton.disabled = false;
  el.signinStatus.textContent = 'Signed out, the console acts as any user it lists (the open emulator mode).';
  let last; // onAuthStateChanged also fires on start-up, with the restored user or null
  fb.onAuthStateChanged(auth, (user) => {
    const uid = user?.uid || null;
    if (last !== undefined && uid === last) return;
    last = uid;
    applySession(user);
  });
}

initTheme($('#theme-toggle'));
renderEnv();
renderSession();
startSession();

// Exposed for debugging in the console only; holds no secrets.
window.__feraset = { state };
