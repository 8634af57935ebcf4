// Cancelling a queued or processing request (its credits come back), from its item's button.
import { api, ApiError, describeError } from '../api.js';
import { state, TERMINAL, announce, pluralCredits, shortId } from './state.js';
import { requestList, upsertRequest, statusPatch } from './request-list.js';
import { stopPolling } from './polling.js';
import { loadCredits } from './credits.js';

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

requestList.addEventListener('click', (event) => {
  const button = event.target.closest('[data-testid="request-cancel"]');
  if (button) cancelRequest(button.closest('[data-request-id]').dataset.requestId);
});
