// The catalog (getCatalog) fills the form's model, style, color and size choices, with the
// chosen size's cost and the chosen color's swatches.
import { api, describeError } from '../api.js';
import { h, replace, $ } from '../dom.js';
import { state, pluralCredits } from './state.js';
import { fields, updateSubmitState } from './request-form.js';

const el = {
  swatches: $('#color-swatches'),
  cost: $('#cost-value'),
  status: $('#catalog-status'),
};

export async function loadCatalog() {
  const epoch = state.envEpoch;
  el.status.textContent = 'Loading catalog…';
  for (const select of [fields.model, fields.style, fields.color, fields.size]) select.disabled = true;
  try {
    const catalog = await api('getCatalog');
    if (epoch !== state.envEpoch) return;
    state.catalog = catalog;
    fillSelect(fields.model, (catalog.models || []).map((m) => ({ value: String(m), label: String(m) })));
    fillSelect(fields.style, (catalog.styles || []).map((st) => ({ value: st.id, label: st.display_name || st.id, title: st.description })));
    fillSelect(fields.color, (catalog.colors || []).map((c) => ({ value: c.id, label: c.display_name || c.id })));
    fillSelect(fields.size, (catalog.sizes || []).map((z) => ({
      value: z.id,
      label: `${z.display_name || z.id} — ${pluralCredits(Number(z.credit_cost))}`,
    })));
    el.status.textContent = '';
    renderSwatches();
    renderCost();
  } catch (err) {
    if (epoch !== state.envEpoch) return;
    state.catalog = null;
    el.status.textContent = `Catalog unavailable: ${describeError(err).message}`;
  }
  updateSubmitState();
}

/** Replace the options, keeping the previous choice when it is still offered. */
function fillSelect(select, options) {
  const previous = select.value;
  replace(select, options.map((o) => h('option', { value: o.value, title: o.title || undefined }, o.label)));
  if (options.some((o) => o.value === previous)) select.value = previous;
  select.disabled = options.length === 0;
}

function renderCost() {
  const size = (state.catalog?.sizes || []).find((z) => z.id === fields.size.value);
  el.cost.textContent = size ? pluralCredits(Number(size.credit_cost)) : '—';
}

function renderSwatches() {
  const color = (state.catalog?.colors || []).find((c) => c.id === fields.color.value);
  const hexes = Array.isArray(color?.hex_examples) ? color.hex_examples : [];
  replace(el.swatches, hexes
    .filter((hex) => typeof hex === 'string' && /^#[0-9a-f]{3,8}$/i.test(hex))
    .map((hex) => h('span', { class: 'swatch', title: hex, style: { 'background-color': hex } })));
}

fields.size.addEventListener('change', renderCost);
fields.color.addEventListener('change', renderSwatches);
