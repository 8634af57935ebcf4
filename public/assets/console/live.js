// Signed in: the list follows the user's newest requests through a Firestore listener instead
// of polling; the balance is re-read when one of them settles.
import { replace } from '../dom.js';
import { state, TERMINAL, announce, shortId } from './state.js';
import { requestList, requestsError, upsertRequest, sortRequestList, showEmptyIfNone } from './request-list.js';
import { loadCredits } from './credits.js';
import { loadRequests } from './polling.js';

const REQUESTS_PAGE = 20;
const PROGRESS = { queued: 10, processing: 50 };

function isoOrNull(value) {
  if (!value) return null;
  const date = typeof value.toDate === 'function' ? value.toDate() : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/** A stored generation_requests document (snake_case, Timestamps) in the API's shape. */
function requestFromDoc(id, data) {
  const status = typeof data.status === 'string' ? data.status : 'unknown';
  return {
    generationRequestId: id,
    status,
    model: data.model,
    style: data.style,
    color: data.color,
    size: data.size,
    prompt: data.prompt,
    imageUrl: data.image_url ?? null,
    error_message: data.error_message ?? null,
    progress: PROGRESS[status] ?? 100,
    credits_deducted: data.credits_deducted,
    created_at: isoOrNull(data.created_at),
    updated_at: isoOrNull(data.updated_at),
    completed_at: isoOrNull(data.completed_at),
    deleted: data.deleted === true,
  };
}

export function watchRequests(uid) {
  stopWatching();
  const epoch = state.epoch;
  const { fb, db } = state.firebase;
  let first = true;
  requestList.setAttribute('aria-busy', 'true');
  const newest = fb.query(fb.collection(db, 'generation_requests'), fb.where('user_id', '==', uid),
    fb.orderBy('created_at', 'desc'), fb.limit(REQUESTS_PAGE));
  state.unwatch = fb.onSnapshot(newest, (snapshot) => {
    if (epoch !== state.epoch) return;
    requestList.removeAttribute('aria-busy');
    replace(requestsError);
    let settled = 0;
    for (const change of snapshot.docChanges()) {
      if (change.type === 'removed') continue; // left the newest-20 window: keep showing it
      const record = requestFromDoc(change.doc.id, change.doc.data());
      const previous = state.requests.get(record.generationRequestId)?.status;
      if (!first && TERMINAL.has(record.status) && !TERMINAL.has(previous)) {
        settled += 1;
        if (previous) announce(`Request ${shortId(record.generationRequestId)} ${record.status}.`);
      }
      upsertRequest(record, { prepend: false });
    }
    sortRequestList();
    first = false;
    showEmptyIfNone();
    if (settled) loadCredits({ reset: true });
  }, (err) => {
    if (epoch !== state.epoch) return;
    // The listener is gone (rules, a missing index, the connection): fall back to polling.
    state.unwatch = null;
    requestList.removeAttribute('aria-busy');
    replace(requestsError, `Live updates unavailable (${err?.code || err?.message || 'error'}); polling instead.`);
    loadRequests();
  });
}

export function stopWatching() {
  if (state.unwatch) state.unwatch();
  state.unwatch = null;
}
