// Injection-safe DOM helpers shared by both pages: every string ends up in textContent or a
// checked attribute; nothing here parses HTML.

const SVG_NS = 'http://www.w3.org/2000/svg';

function applyAttrs(el, attrs, isSvg) {
  if (!attrs) return;
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class' || key === 'className') {
      el.setAttribute('class', String(value));
    } else if (key === 'dataset') {
      for (const [dk, dv] of Object.entries(value)) el.dataset[dk] = String(dv);
    } else if (key === 'style' && typeof value === 'object') {
      for (const [sk, sv] of Object.entries(value)) el.style.setProperty(sk, String(sv));
    } else if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === 'href' || key === 'src') {
      el.setAttribute(key, safeUrl(String(value)));
    } else if (!isSvg && (key === 'value' || key === 'checked' || key === 'disabled' || key === 'selected')) {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
}

function appendChildren(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** h('div', {class: 'x', 'data-testid': 'y'}, 'text', h('span', null, 'more')) */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  applyAttrs(el, attrs, false);
  appendChildren(el, children);
  return el;
}

/** Same as h() but in the SVG namespace. */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  applyAttrs(el, attrs, true);
  appendChildren(el, children);
  return el;
}

/** Remove all children, then append the given ones. */
export function replace(el, ...children) {
  el.replaceChildren();
  appendChildren(el, children);
  return el;
}

/** Only http(s)/relative/mailto URLs survive; anything else (javascript:, data:) becomes '#'. */
export function safeUrl(url) {
  const trimmed = url.trim();
  if (/^(https?:|mailto:)/i.test(trimmed)) return trimmed;
  if (/^[a-z][a-z0-9+.-]*:/i.test(trimmed)) return '#';
  return trimmed;
}

// Plain http is accepted only for these hosts (the local emulators): nothing is sent in clear
// over a network, nor to a mistyped host name with a missing "s".
export const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** True for an absolute https:// URL, or an http:// one on a loopback host (the emulators). */
export function isSafeRemoteUrl(value) {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname));
  } catch {
    return false;
  }
}

/** A value as a safe class-name fragment: `badge-${cssToken(status)}`. */
export function cssToken(value) {
  return String(value ?? '').toLowerCase().replace(/[^a-z0-9_-]/g, '-');
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

export function formatTime(value) {
  if (!value) return '—';
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return d.toLocaleString(undefined, {
    year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
  });
}

export function formatNumber(value, digits = 0) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return value === undefined || value === null ? '—' : String(value);
  return value.toLocaleString(undefined, { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

/** Turn snake_case / camelCase keys into "Title case" labels. */
export function humanize(key) {
  return String(key)
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .replace(/_/g, ' ')
    .replace(/^\w/, (c) => c.toUpperCase());
}

// ---- storage (shared by both pages) ----------------------------------------
// Storage can be disabled or full (private windows, quotas): reads then give null and writes
// are dropped, and the pages keep their in-memory defaults.

/** storage.getItem(key), or null when storage is unavailable. */
export function storageGet(storage, key) {
  try { return storage.getItem(key); } catch { return null; }
}

/** Store `value` under `key`; an empty value (null, undefined, '') removes the key. */
export function storageSet(storage, key, value) {
  try {
    if (value === null || value === undefined || value === '') storage.removeItem(key);
    else storage.setItem(key, String(value));
  } catch { /* storage unavailable: keep in-memory defaults */ }
}

// ---- theme (shared by both pages) ----------------------------------------
// The colours follow the system preference (styles.css declares each token with light-dark());
// once the user picks a theme, data-theme on <html> pins it and localStorage remembers it.
const THEME_KEY = 'feraset.theme';
const DARK_QUERY = '(prefers-color-scheme: dark)';

export function initTheme(button) {
  const root = document.documentElement;
  const stored = () => {
    const theme = storageGet(localStorage, THEME_KEY);
    return theme === 'dark' || theme === 'light' ? theme : null;
  };
  const effective = () => root.dataset.theme || (matchMedia(DARK_QUERY).matches ? 'dark' : 'light');
  const apply = (theme) => {
    if (theme) root.dataset.theme = theme;
    else delete root.dataset.theme;
    if (button) {
      const dark = effective() === 'dark';
      button.textContent = dark ? 'Light mode' : 'Dark mode';
      button.setAttribute('aria-pressed', String(dark));
    }
  };
  apply(stored());
  button?.addEventListener('click', () => {
    const next = effective() === 'dark' ? 'light' : 'dark';
    storageSet(localStorage, THEME_KEY, next);
    apply(next);
  });
  matchMedia(DARK_QUERY).addEventListener('change', () => apply(stored()));
}
