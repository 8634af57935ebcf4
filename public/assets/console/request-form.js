// The new-request form: it sends createGenerationRequest (with an Idempotency-Key), shows the new
// request at the top of the list and follows it (polling signed out, the listener signed in).
import { api, ApiError, showError } from '../api.js';
import { replace, $ } from '../dom.js';
import { state, announce, pluralCredits, shortId } from './state.js';
import { upsertRequest, sortRequestList } from './request-list.js';
import { startPolling, loadRequests } from './polling.js';
import { loadCredits } from './credits.js';

export const fields = {
  model: $('#field-model'),
  style: $('#field-style'),
  color: $('#field-color'),
  size: $('#field-size'),
  prompt: $('#field-prompt'),
};

const el = {
  form: $('#request-form'),
  submit: $('#submit-button'),
  error: $('#form-error'),
};

/** Generate is enabled with a user and a catalog, and not while a request is on its way. */
export function updateSubmitState() {
  el.submit.disabled = !(state.userId && state.catalog) || el.submit.dataset.busy === 'true';
}

export function hideFormError() {
  el.error.hidden = true;
  replace(el.error);
  for (const field of Object.values(fields)) field.removeAttribute('aria-invalid');
}

function showFormError(err) {
  showError(el.error, err);
  el.error.hidden = false;
  el.error.dataset.status = err instanceof ApiError ? String(err.status) : '';
  if (err instanceof ApiError) {
    for (const d of err.details) if (d && fields[d.field]) fields[d.field].setAttribute('aria-invalid', 'true');
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
    model: fields.model.value,
    style: fields.style.value,
    color: fields.color.value,
    size: fields.size.value,
    prompt: fields.prompt.value.trim(),
  };
  if (!payload.prompt) {
    fields.prompt.setAttribute('aria-invalid', 'true');
    replace(el.error, 'Please enter a prompt.');
    el.error.hidden = false;
    fields.prompt.focus();
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
