// The request list: one item per request, newest first, re-rendered whole on every update
// (a poll, the live listener, the form or a cancellation).
import { h, replace, $, formatTime, formatNumber, humanize, isSafeRemoteUrl, cssToken } from '../dom.js';
import { state, TERMINAL, pluralCredits, shortId } from './state.js';

// A request can be cancelled (its credits refunded) until a worker finishes it.
const CANCELLABLE = new Set(['queued', 'processing']);
// generationRequestIds whose deletion (delete.js) is on its way.
export const deleting = new Set();

export const requestList = $('#request-list');
export const requestsError = $('#requests-error');

/** Empty the list and its error (another user is chosen). */
export function clearRequestList() {
  replace(requestList);
  replace(requestsError);
}

/** Say so when there is no request to list. */
export function showEmptyIfNone() {
  if (state.requests.size === 0) replace(requestList, h('li', { class: 'empty', 'data-testid': 'requests-empty' }, 'No requests yet.'));
}

export function sortRequestList() {
  const items = [...requestList.querySelectorAll('[data-testid="request-item"]')];
  items.sort((a, b) => (b.dataset.created || '').localeCompare(a.dataset.created || ''));
  for (const item of items) requestList.append(item);
}

/** Merge `partial` into the request's record and show it (a new one at the top or the bottom). */
export function upsertRequest(partial, { prepend }) {
  const id = partial.generationRequestId;
  if (!id) return;
  const existing = state.requests.get(id) || {};
  const record = { ...existing };
  for (const [k, v] of Object.entries(partial)) if (v !== undefined) record[k] = v;
  state.requests.set(id, record);
  const node = renderRequest(record);
  const current = requestList.querySelector(`[data-request-id="${CSS.escape(id)}"]`);
  // A focused control in the item keeps the focus.
  const focused = current?.contains(document.activeElement) ? document.activeElement.dataset.testid : null;
  requestList.querySelector('.empty')?.remove();
  if (current) current.replaceWith(node);
  else if (prepend) requestList.prepend(node);
  else requestList.append(node);
  if (focused) node.querySelector(`[data-testid="${CSS.escape(focused)}"]`)?.focus();
}

/** The part of a getGenerationStatus body (or of cancelGenerationRequest's) a request item shows. */
export function statusPatch(id, data) {
  return {
    generationRequestId: id,
    status: data.status,
    imageUrl: data.imageUrl ?? null,
    error_message: data.error_message ?? null,
    progress: data.progress,
    created_at: data.created_at,
    updated_at: data.updated_at,
    completed_at: data.completed_at ?? null,
    deleted: data.deleted === true,
    queuePosition: data.queuePosition ?? null,
  };
}

// A status answer's `queuePosition` as shown: a count (0 = next), or "1000+" past the cap. The
// live listener reads Firestore, which has no position: signed in, a queued request says "Queued".
function queuePositionText(value) {
  if (Number.isInteger(value) && value >= 0) return String(value);
  return typeof value === 'string' && /^\d+\+$/.test(value) ? value : null;
}

function renderRequest(r) {
  const status = r.status || 'unknown';
  const progress = Math.max(0, Math.min(100, Number(r.progress) || 0));
  const position = status === 'queued' ? queuePositionText(r.queuePosition) : null;
  return h('li', {
    class: `request status-${cssToken(status)}`,
    'data-testid': 'request-item',
    'data-status': status,
    'data-request-id': r.generationRequestId,
    'data-created': normaliseIso(r.created_at),
  },
  h('div', { class: 'request-head' },
    h('span', {
      class: `badge badge-${cssToken(status)}`, 'data-testid': 'request-status',
      title: position === null ? null : `${position} queued requests ahead of it`,
    }, position === null ? humanize(status) : `Queued — position ${position}`),
    h('span', { class: 'request-params' }, [r.model, r.style, r.color, r.size].filter(Boolean).join(' · ')),
    h('time', { class: 'request-time', datetime: r.created_at || '' }, formatTime(r.created_at)),
    CANCELLABLE.has(status) ? renderCancelButton(r.generationRequestId) : null,
    TERMINAL.has(status) && !r.deleted ? renderDeleteButton(r.generationRequestId) : null),
  r.prompt ? h('p', { class: 'request-prompt' }, r.prompt) : null,
  h('div', { class: 'progress-row' },
    h('progress', {
      max: '100', value: String(progress), 'data-testid': 'request-progress',
      'aria-label': `Progress of request ${shortId(r.generationRequestId)}`,
    }),
    h('span', { class: 'progress-text' }, `${formatNumber(progress, 0)}%`)),
  r.deleted ? h('div', { class: 'request-result no-image', 'data-testid': 'request-deleted' }, 'Picture and prompt deleted')
    : status === 'completed' ? renderImage(r) : null,
  r.error_message ? h('div', { class: 'request-error', 'data-testid': 'request-error' }, r.error_message) : null,
  r.cancel_error ? h('div', { class: 'request-error', role: 'alert', 'data-testid': 'request-cancel-error' }, r.cancel_error) : null,
  r.delete_error ? h('div', { class: 'request-error', role: 'alert', 'data-testid': 'request-delete-error' }, r.delete_error) : null,
  h('div', { class: 'request-meta' },
    h('span', null, `ID ${r.generationRequestId}`),
    r.credits_deducted !== undefined && r.credits_deducted !== null ? h('span', null, pluralCredits(Number(r.credits_deducted))) : null,
    r.completed_at ? h('span', null, `Finished ${formatTime(r.completed_at)}`) : null,
    state.pollers.has(r.generationRequestId) && !TERMINAL.has(status) ? h('span', { class: 'polling' }, 'watching…') : null));
}

// Its clicks are handled by cancel.js, on the list.
function renderCancelButton(id) {
  const busy = state.cancelling.has(id);
  return h('button', {
    type: 'button',
    class: 'btn btn-ghost btn-small btn-cancel',
    'data-testid': 'request-cancel',
    'aria-label': `Cancel request ${shortId(id)}`,
    'aria-busy': busy ? 'true' : null,
    disabled: busy,
  }, busy ? 'Cancelling…' : 'Cancel');
}

// Its clicks are handled by delete.js, on the list.
function renderDeleteButton(id) {
  const busy = deleting.has(id);
  return h('button', {
    type: 'button',
    class: 'btn btn-ghost btn-small btn-cancel',
    'data-testid': 'request-delete',
    'aria-label': `Delete the picture and prompt of request ${shortId(id)}`,
    'aria-busy': busy ? 'true' : null,
    disabled: busy,
  }, busy ? 'Deleting…' : 'Delete');
}

// A lazy thumbnail that opens the full image. No stored image (the seeded history never ran a
// model) or a failed download says so instead of showing a broken image.
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
