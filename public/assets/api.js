// API client for both pages: which API to call (the environment) and a fetch wrapper that reads
// the JSON error envelope ({"success": false, "error_type", "message", "error", "details": [{field, message}]}).
import { h, replace, storageGet, storageSet, LOOPBACK_HOSTS } from './dom.js';

const ENV_KEY = 'feraset.env';          // "local" | "production"
const BASE_KEY = 'feraset.baseUrl';     // production base URL typed by the user
const ADMIN_KEY = 'feraset.adminKey';   // sessionStorage only
// A signed-in user's token replaced the pasted ID token setting: drop stored copies.
storageSet(sessionStorage, 'feraset.idToken', '');

// Hosting rewrites /api/<functionName> to each HTTP function (firebase.json).
export const LOCAL_BASE = '/api';

export function getSettings() {
  return {
    env: storageGet(localStorage, ENV_KEY) === 'production' ? 'production' : 'local',
    productionBaseUrl: storageGet(localStorage, BASE_KEY) || '',
    adminKey: storageGet(sessionStorage, ADMIN_KEY) || '',
  };
}

/**
 * Normalises a user-typed base URL. Returns null unless it is an absolute `https` URL, or an
 * `http` URL on a loopback host (127.0.0.1, localhost, [::1]), without query or fragment.
 */
export function normaliseBaseUrl(raw) {
  const value = String(raw || '').trim();
  if (!value) return null;
  let url;
  try { url = new URL(value); } catch { return null; }
  if (url.protocol === 'http:') {
    if (!LOOPBACK_HOSTS.has(url.hostname)) return null;
  } else if (url.protocol !== 'https:') {
    return null;
  }
  if (url.username || url.password || url.search || url.hash) return null;
  return url.href.replace(/\/+$/, '');
}

export function saveSettings({ env, productionBaseUrl, adminKey }) {
  storageSet(localStorage, ENV_KEY, env === 'production' ? 'production' : 'local');
  if (productionBaseUrl !== undefined) storageSet(localStorage, BASE_KEY, productionBaseUrl);
  if (adminKey !== undefined) storageSet(sessionStorage, ADMIN_KEY, adminKey);
}

// Signed-in session hooks: set by the console, unset on the report page.
let idTokenSource = null;
let authFailureHandler = null;

/**
 * `source()` resolves to the signed-in user's Firebase ID token (the SDK refreshes it when it
 * expires), or null when signed out. Every call then sends it as `Authorization: Bearer`.
 */
export function setIdTokenSource(source) {
  idTokenSource = source;
}

/** `handler(err)` runs on every 401 or 403 from a user (non-admin) call, before it throws. */
export function setAuthFailureHandler(handler) {
  authFailureHandler = handler;
}

export function getBaseUrl() {
  const settings = getSettings();
  if (settings.env === 'production') {
    const base = normaliseBaseUrl(settings.productionBaseUrl);
    if (base) return base;
  }
  return LOCAL_BASE;
}

export class ApiError extends Error {
  constructor({ status, body, message, url }) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.body = body && typeof body === 'object' ? body : null;
    this.url = url;
    this.errorType = this.body?.error_type || null;
    this.details = Array.isArray(this.body?.details) ? this.body.details : [];
  }
}

function messageFromBody(status, body) {
  if (body && typeof body === 'object') {
    if (typeof body.message === 'string' && body.message) return body.message;
    if (typeof body.error === 'string' && body.error) return body.error;
  }
  return `Request failed (HTTP ${status})`;
}

/**
 * Call an HTTP function.
 * @param {string} name   function name, e.g. "getUserCredits"
 * @param {object} opts   {method, query, body, headers, admin, timeoutMs}
 * @returns {Promise<any>} the parsed JSON body of a 2xx response
 * @throws {ApiError}     for non-2xx responses, non-JSON bodies and network failures
 */
export async function api(name, { method = 'GET', query, body, headers = {}, admin = false, timeoutMs = 30000 } = {}) {
  const base = getBaseUrl();
  const settings = getSettings();
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  }
  const qs = params.toString();
  const url = `${base}/${encodeURIComponent(name)}${qs ? `?${qs}` : ''}`;

  const finalHeaders = { Accept: 'application/json', ...headers };
  if (body !== undefined) finalHeaders['Content-Type'] = 'application/json';
  let idToken = null;
  try { idToken = idTokenSource ? await idTokenSource() : null; } catch { idToken = null; } // refresh failed: the API says 401
  if (idToken) {
    finalHeaders.Authorization = `Bearer ${idToken}`;
  } else if (settings.env === 'production' && admin && settings.adminKey) {
    finalHeaders.Authorization = `Bearer ${settings.adminKey}`;
  }

  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let response;
  try {
    response = await fetch(url, {
      method,
      headers: finalHeaders,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: controller.signal,
      cache: 'no-store',
    });
  } catch (err) {
    const reason = err?.name === 'AbortError' ? 'the request timed out' : 'the server could not be reached';
    throw new ApiError({ status: 0, body: null, url, message: `Network error: ${reason} (${base}).` });
  } finally {
    clearTimeout(timer);
  }

  const text = await response.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!response.ok) {
    const message = data ? messageFromBody(response.status, data)
      : `Unexpected non-JSON response (HTTP ${response.status}) from ${name}.`;
    const err = new ApiError({ status: response.status, body: data, url, message });
    // recent_sign_in_required: the caller asks for the password itself (console/account-data.js).
    const reauth = data?.error === 'recent_sign_in_required';
    if (!admin && !reauth && (response.status === 401 || response.status === 403)) authFailureHandler?.(err);
    throw err;
  }
  if (data === null) {
    throw new ApiError({ status: response.status, body: null, url, message: `Unexpected non-JSON response from ${name}.` });
  }
  return data;
}

// Seeding and the weekly report can take a minute or more on a cold emulator.
export const ADMIN_TIMEOUT_MS = 120000;

/** Run the weekly report now (admin); both pages have a button for it. */
export function runWeeklyReport() {
  return api('scheduleWeeklyReport', { method: 'POST', body: {}, admin: true, timeoutMs: ADMIN_TIMEOUT_MS });
}

/** Lines to show for an error: the API message first, then one line per validation detail. */
export function describeError(err) {
  if (!(err instanceof ApiError)) {
    return { message: err?.message ? String(err.message) : 'Unexpected error.', details: [] };
  }
  let message = err.message;
  if (err.errorType === 'queue_failure' && err.body?.refunded) {
    message = `${message} Your credits were refunded.`;
  }
  const details = err.details
    .filter((d) => d && typeof d === 'object')
    .map((d) => (d.field ? `${d.field}: ${d.message ?? ''}` : String(d.message ?? '')));
  return { message, details, status: err.status, errorType: err.errorType };
}

/**
 * Show an error in `node` as text: the message (after `prefix`), then a list of the validation
 * details. A falsy `err` clears `node`.
 */
export function showError(node, err, prefix = '') {
  if (!err) { replace(node); return node; }
  const { message, details } = describeError(err);
  return replace(node, `${prefix}${message}`,
    details.length ? h('ul', { class: 'details' }, details.map((d) => h('li', null, d))) : null);
}

/** Show which API base the page talks to (both pages' footers). */
export function showApiBase(node) {
  if (node) node.textContent = getBaseUrl();
}
