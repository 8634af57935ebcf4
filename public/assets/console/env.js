// The environment panel: which API the console calls (the local emulator or a production base URL).
import { getSettings, saveSettings, getBaseUrl, normaliseBaseUrl, showApiBase, LOCAL_BASE } from '../api.js';
import { $ } from '../dom.js';
import { announce } from './state.js';

const el = {
  form: $('#env-form'),
  summary: $('#env-summary'),
  baseUrl: $('#env-base-url'),
  adminKey: $('#env-admin-key'),
  error: $('#env-error'),
  apiBase: $('#api-base'),
};

export function renderEnv() {
  const settings = getSettings();
  for (const radio of el.form.elements.env) radio.checked = radio.value === settings.env;
  el.baseUrl.value = settings.productionBaseUrl;
  el.adminKey.value = settings.adminKey;
  const base = getBaseUrl();
  el.summary.textContent = settings.env === 'production' && base !== LOCAL_BASE ? `Production (${base})` : 'Local emulator';
  showApiBase(el.apiBase);
}

/** Save the form on submit (an invalid base URL keeps the previous setting), then `onSave()`. */
export function initEnv({ onSave }) {
  el.form.addEventListener('submit', (event) => {
    event.preventDefault();
    const env = el.form.elements.env.value === 'production' ? 'production' : 'local';
    const rawBase = el.baseUrl.value.trim();
    if (env === 'production' && !normaliseBaseUrl(rawBase)) {
      el.error.textContent = 'Not saved: the base URL must be an https URL without query string, '
        + 'e.g. https://feraset-imagen.web.app/api (plain http only for 127.0.0.1, localhost or [::1]). '
        + 'The previous setting is kept.';
      el.baseUrl.setAttribute('aria-invalid', 'true');
      return;
    }
    el.baseUrl.removeAttribute('aria-invalid');
    el.error.textContent = '';
    saveSettings({
      env,
      productionBaseUrl: normaliseBaseUrl(rawBase) || rawBase,
      adminKey: el.adminKey.value.trim(),
    });
    renderEnv();
    announce(`Environment saved: ${el.summary.textContent}`);
    onSave();
  });
}
