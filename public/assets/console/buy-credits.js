// Buy credits: the packs of getCatalog's creditPacks, each with a Buy button that opens a Stripe
// Checkout Session (createCheckoutSession, as the signed-in user) by navigating to its URL. Back
// from Checkout (?checkout=success|cancelled) it says so, and refreshes the balance while the
// payment's webhook lands.
import { api, describeError, getSettings } from '../api.js';
import { h, replace, $, isSafeRemoteUrl, LOOPBACK_HOSTS } from '../dom.js';
import { state, announce, pluralCredits } from './state.js';
import { loadCredits } from './credits.js';

const el = {
  card: $('#buy-credits-card'),
  list: $('#pack-list'),
  note: $('#buy-credits-note'),
  signin: $('#buy-credits-signin'),
  error: $('#buy-credits-error'),
  hint: $('#buy-credits-hint'),
};

// The balance is read again this many ms after the return from Checkout, until it changes.
const REFRESH_AFTER_MS = [0, 2000, 4000, 7000, 11000, 16000, 22000, 30000, 45000, 60000];
const SCRIPT = 'functions/venv/bin/python scripts/stripe_event.py';

let returned = takeCheckoutResult();
let refreshTimer = null;
let buying = false;

/** `?checkout=success|cancelled` of the return from Checkout, taken off the address (a reload
 * must not say it again). */
function takeCheckoutResult() {
  const url = new URL(window.location.href);
  const result = url.searchParams.get('checkout');
  if (result === null) return null;
  url.searchParams.delete('checkout');
  window.history.replaceState(window.history.state, '', url.href);
  return result === 'success' || result === 'cancelled' ? result : null;
}

/** The page runs on the local stack (the emulators), where scripts/stripe_event.py stands in
 * for Stripe. */
function onLocalStack() {
  return getSettings().env === 'local' && LOOPBACK_HOSTS.has(window.location.hostname);
}

function formatPrice(amount, currency) {
  const code = String(currency || '').toUpperCase();
  try {
    const format = new Intl.NumberFormat(undefined, { style: 'currency', currency: code });
    const digits = format.resolvedOptions().maximumFractionDigits;
    return format.format(Number(amount) / 10 ** digits);
  } catch {
    return `${amount} ${code}`; // an unknown currency code: Stripe's smallest unit as it is
  }
}

/** Show the packs of the loaded catalog for the current session (after every boot). */
export function renderBuyCredits() {
  stopRefresh();
  const packs = Array.isArray(state.catalog?.creditPacks) ? state.catalog.creditPacks : [];
  el.card.hidden = packs.length === 0; // no packs offered here: nothing to buy
  replace(el.error);
  hideHint();
  const signedIn = Boolean(state.session);
  el.signin.hidden = signedIn;
  if (!signedIn) el.note.hidden = true;
  replace(el.list, packs.map((pack) => renderPack(pack, signedIn)));
  if (returned && signedIn) showReturn(returned);
}

function renderPack(pack, signedIn) {
  const name = String(pack.name || pack.id);
  return h('li', { class: 'pack', 'data-testid': 'pack-item', 'data-pack-id': String(pack.id) },
    h('span', { class: 'pack-body' },
      h('span', { class: 'pack-name' }, name),
      h('span', { class: 'pack-meta' }, pluralCredits(Number(pack.credits)))),
    h('span', { class: 'pack-price', 'data-testid': 'pack-price' }, formatPrice(pack.amount, pack.currency)),
    h('button', {
      type: 'button', class: 'btn btn-small', 'data-testid': 'pack-buy', disabled: !signedIn,
      'aria-label': `Buy ${name}`, onClick: () => buy(pack),
    }, 'Buy'));
}

async function buy(pack) {
  if (buying || !state.session) return;
  const epoch = state.envEpoch;
  buying = true;
  setButtonsDisabled(true);
  replace(el.error);
  hideHint();
  el.note.hidden = true;
  announce('Opening checkout…');
  try {
    const data = await api('createCheckoutSession', { method: 'POST', body: { packId: String(pack.id) } });
    if (epoch !== state.envEpoch) return;
    if (!isSafeRemoteUrl(data.url)) throw new Error('The checkout answer had no usable URL.');
    window.location.assign(data.url); // a navigation to Stripe, not a fetch: the CSP allows it
  } catch (err) {
    if (epoch !== state.envEpoch) return;
    const { message, errorType } = describeError(err);
    replace(el.error, message);
    announce('');
    if (errorType === 'payments_not_configured' && onLocalStack()) showHint(pack);
  } finally {
    buying = false;
    if (epoch === state.envEpoch) setButtonsDisabled(!state.session);
  }
}

function setButtonsDisabled(disabled) {
  for (const button of el.list.querySelectorAll('[data-testid="pack-buy"]')) button.disabled = disabled;
}

/** On the local stack: the command that sends this purchase as Stripe's webhook would. */
function showHint(pack) {
  const command = `${SCRIPT} checkout-completed --user ${state.session.uid} --pack ${pack.id}`;
  replace(el.hint, 'The signed test purchase for this pack: ',
    h('code', { 'data-testid': 'buy-credits-command' }, command));
  el.hint.hidden = false;
}

function hideHint() {
  el.hint.hidden = true;
  replace(el.hint);
}

function showReturn(result) {
  returned = null;
  if (result === 'success') {
    replace(el.note, 'Payment received: your credits arrive in a moment.');
    el.note.dataset.result = 'success';
    el.note.hidden = false;
    announce('Payment received: your credits arrive in a moment.');
    refreshUntilChanged();
  } else {
    replace(el.note, 'Checkout cancelled: nothing was charged.');
    el.note.dataset.result = 'cancelled';
    el.note.hidden = false;
  }
}

/** Read the balance on REFRESH_AFTER_MS until it differs from the first one read. */
function refreshUntilChanged() {
  const epoch = state.epoch;
  let first = null;
  let step = 0;
  const tick = async () => {
    refreshTimer = null;
    if (epoch !== state.epoch || !state.userId) return;
    await loadCredits({ reset: true });
    if (epoch !== state.epoch) return;
    const shown = $('#credits-value').dataset.value ?? null;
    if (first === null) first = shown;
    else if (shown !== first) return; // the purchase landed
    step += 1;
    if (step < REFRESH_AFTER_MS.length) {
      refreshTimer = setTimeout(tick, REFRESH_AFTER_MS[step] - REFRESH_AFTER_MS[step - 1]);
    }
  };
  tick();
}

function stopRefresh() {
  if (refreshTimer !== null) clearTimeout(refreshTimer);
  refreshTimer = null;
}
