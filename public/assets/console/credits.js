// The acting user's balance and transaction history (getUserCredits, paged by its cursor).
import { api, showError } from '../api.js';
import { h, replace, $, formatTime, humanize } from '../dom.js';
import { state, pluralCredits, shortId } from './state.js';

const TX_PAGE = 20;

const el = {
  credits: $('#credits-value'),
  txList: $('#tx-list'),
  txMore: $('#tx-more'),
  txError: $('#tx-error'),
};

/** Forget the shown balance and history (another user is chosen). */
export function clearCredits() {
  replace(el.txList);
  replace(el.txError);
  el.txMore.hidden = true;
  el.credits.textContent = '—';
}

/** Read the balance and the first page of history (`reset`), or the next page. */
export async function loadCredits({ reset }) {
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
    const user = state.users.find((u) => u.userId === userId);
    if (user) user.current_credits = data.currentCredits;
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

// Ledger types that add credits (a refund, and money in: grants, welcome credits, purchases).
const CREDITS_IN = new Set(['refund', 'grant', 'welcome', 'purchase']);

function renderTransaction(tx) {
  const isRefund = CREDITS_IN.has(tx.type);
  const amount = Number(tx.credits) || 0;
  return h('li', { class: `tx tx-${isRefund ? 'refund' : 'deduction'}`, 'data-testid': 'tx-item', 'data-type': tx.type || '' },
    h('span', { class: 'tx-amount', 'aria-label': `${humanize(tx.type || 'transaction')} of ${pluralCredits(amount)}` },
      `${isRefund ? '+' : '−'}${amount}`),
    h('span', { class: 'tx-body' },
      h('span', { class: 'tx-desc' }, tx.description || humanize(tx.type || 'transaction')),
      h('span', { class: 'tx-meta' },
        h('time', { datetime: tx.timestamp || '' }, formatTime(tx.timestamp)),
        tx.generation_request_id ? ` · ${shortId(tx.generation_request_id)}` : '')));
}

el.txMore.addEventListener('click', () => loadCredits({ reset: false }));
