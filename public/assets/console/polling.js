// Signed out: the list comes from listGenerationRequests and each unfinished request is polled
// (getGenerationStatus) with exponential backoff until it settles.
import { api, ApiError, describeError, showError } from '../api.js';
import { state, TERMINAL, announce, shortId } from './state.js';
import { requestList, requestsError, upsertRequest, sortRequestList, statusPatch, showEmptyIfNone } from './request-list.js';
import { loadCredits } from './credits.js';
import { replace, $ } from '../dom.js';

const POLL_START_MS = 500;
const POLL_MAX_MS = 8000;

export async function loadRequests() {
  const userId = state.userId;
  const epoch = state.epoch;
  if (!userId) return;
  requestList.setAttribute('aria-busy', 'true');
  try {
    const data = await api('listGenerationRequests', { query: { userId, limit: 20 } });
    if (epoch !== state.epoch) return;
    replace(requestsError);
    const list = Array.isArray(data.requests) ? data.requests : [];
    // Newest first, after any the form has just added.
    for (const record of list) upsertRequest(record, { prepend: false });
    sortRequestList();
    for (const record of list) if (!TERMINAL.has(record.status)) startPolling(record.generationRequestId);
    showEmptyIfNone();
  } catch (err) {
    if (epoch !== state.epoch) return;
    showError(requestsError, err);
  } finally {
    if (epoch === state.epoch) requestList.removeAttribute('aria-busy');
  }
}

export function startPolling(id) {
  if (state.pollers.has(id)) return;
  schedulePoll(id, POLL_START_MS, state.epoch);
}

function schedulePoll(id, delay, epoch) {
  const timer = setTimeout(() => poll(id, delay, epoch), delay);
  state.pollers.set(id, timer);
}

export function stopPolling(id) {
  const timer = state.pollers.get(id);
  if (timer !== undefined) clearTimeout(timer);
  state.pollers.delete(id);
}

export function stopAllPolling() {
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

// Refresh re-reads the balance, and the list unless the live listener keeps it current.
$('#requests-refresh').addEventListener('click', () => {
  if (!state.unwatch) loadRequests();
  loadCredits({ reset: true });
});
