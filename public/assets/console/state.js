// What the console's modules share: the page state, the status line and a few text formats.
import { $, replace } from '../dom.js';

export const state = {
  users: [],
  userId: '',
  catalog: null,
  requests: new Map(),   // generationRequestId -> request record
  pollers: new Map(),    // generationRequestId -> timeout id
  cancelling: new Set(), // generationRequestIds whose cancellation is on its way
  txCursor: null,
  firebase: null,        // {fb, auth, db} once the SDK has started; null while loading or when it failed
  session: null,         // {uid, email, admin} while signed in; null in the open (signed-out) mode
  account: null,         // the signed-in user's createAccount answer; null signed out or before it
  unwatch: null,         // unsubscribes the live listener on the signed-in user's requests
  epoch: 0,              // bumps on every user switch; stale per-user async results are dropped
  envEpoch: 0,           // bumps on every (re)boot: environment change or seed
};

export const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

const globalStatus = $('#global-status');

/** Say `text` in the page's polite live region. */
export function announce(text) {
  replace(globalStatus, text || '');
}

export function pluralCredits(n) {
  return `${n} credit${n === 1 ? '' : 's'}`;
}

export function shortId(id) {
  const str = String(id);
  return str.length > 12 ? `${str.slice(0, 8)}…` : str;
}
