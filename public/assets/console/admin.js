// The admin tools: seed the database, run the weekly report now, grant credits.
import { api, showError, runWeeklyReport, ADMIN_TIMEOUT_MS } from '../api.js';
import { h, replace, $, formatTime, formatNumber, humanize } from '../dom.js';
import { state, pluralCredits } from './state.js';
import { loadCredits } from './credits.js';

const el = {
  seed: $('#seed-button'),
  report: $('#report-button'),
  result: $('#admin-result'),
  grantForm: $('#grant-form'),
  grantUser: $('#grant-user'),
  grantUsers: $('#grant-user-list'),
  grantCredits: $('#grant-credits'),
  grantReason: $('#grant-reason'),
  grantSubmit: $('#grant-submit'),
  grantResult: $('#grant-result'),
};

// What seed_database does, exactly: it touches only documents it wrote itself (marked seeded).
const SEED_CONFIRMATION = 'Seed the database?\n\n'
  + 'This resets the seed data only: the 6 styles, 5 colors and 3 sizes, the 13 seed users '
  + '(balances back to their seed values) and their fabricated request history.\n\n'
  + 'Nothing else is deleted or changed: other users, their requests and transactions, '
  + 'requests the seed users made themselves, reports and idempotency records stay as they are. '
  + 'A seed user whose document was not created by the seeder is left alone.\n\n'
  + 'Refused with "seed disabled" where the SEED_ENABLED param is false (the production default).';

export function clearAdminResult() {
  replace(el.result);
}

function renderAdminResult(title, rows, extra) {
  replace(el.result,
    h('p', { class: 'admin-title' }, title),
    rows.length ? h('dl', { class: 'kv' }, rows.flatMap(([k, v]) => [h('dt', null, k), h('dd', null, v)])) : null,
    extra || null);
}

/** Run `fn` with `button` busy and the result area saying how it went. */
async function runAdmin(button, label, fn) {
  button.disabled = true;
  const original = button.textContent;
  button.textContent = `${label}…`;
  el.result.dataset.state = 'running';
  replace(el.result, `${label}…`);
  try {
    await fn();
    el.result.dataset.state = 'success';
  } catch (err) {
    el.result.dataset.state = 'error';
    replace(el.result, showError(h('div', { class: 'error-text', role: 'alert' }), err, `${label} failed: `));
  } finally {
    button.disabled = false;
    button.textContent = original;
  }
}

async function runReport() {
  const data = await runWeeklyReport();
  const summary = data.summary || {};
  const anomalies = data.anomaly_summary || {};
  const period = summary.report_period || data.report_data?.report_period || {};
  const rows = [
    ['Status', String(data.reportStatus ?? '—')],
    ['Period', period.start_date ? `${formatTime(period.start_date)} → ${formatTime(period.end_date)}` : '—'],
    ['Total requests', formatNumber(summary.total_requests)],
    ['Success rate', summary.success_rate !== undefined ? `${formatNumber(summary.success_rate, 2)}%` : '—'],
    ['Active users', formatNumber(summary.active_users)],
    ['Credits consumed', formatNumber(summary.credits_consumed)],
    ['Anomalies', `${formatNumber(anomalies.total_anomalies)} (${anomalies.severity_level ?? '—'})`],
  ];
  const reportId = data.report_data?.id;
  const href = reportId ? `report.html?reportId=${encodeURIComponent(reportId)}` : 'report.html';
  renderAdminResult('Weekly report generated.', rows,
    h('p', null, h('a', { href, 'data-testid': 'admin-report-link' }, 'View the report →')));
}

/** Wire the buttons; `onSeeded()` reloads the console once the seed is done. */
export function initAdmin({ onSeeded }) {
  el.seed.addEventListener('click', () => {
    // eslint-disable-next-line no-alert
    if (!window.confirm(SEED_CONFIRMATION)) return;
    runAdmin(el.seed, 'Seeding', async () => {
      const data = await api('seed_database', { method: 'POST', body: {}, admin: true, timeoutMs: ADMIN_TIMEOUT_MS });
      const counts = data.counts && typeof data.counts === 'object' ? data.counts : {};
      renderAdminResult(data.message || 'Database seeded.',
        Object.entries(counts).map(([k, v]) => [humanize(k), formatNumber(v)]));
      await onSeeded();
    });
  });
  el.report.addEventListener('click', () => runAdmin(el.report, 'Running weekly report', runReport));
}

// A submission's grantId, kept while the same grant is retried after no answer (a network error,
// a timeout, a 5xx, a 429), so a retry whose first attempt did land credits nothing more.
let pendingGrant = null; // {terms, grantId}

function newGrantId() {
  return `console_${crypto.randomUUID().replaceAll('-', '')}`;
}

function grantIdFor(body) {
  const terms = JSON.stringify(body);
  if (pendingGrant?.terms !== terms) pendingGrant = { terms, grantId: newGrantId() };
  return pendingGrant.grantId;
}

function answered(err) {
  return err?.status >= 400 && err.status < 500 && err.status !== 429;
}

async function submitGrant(event) {
  event.preventDefault();
  const body = {
    userId: el.grantUser.value.trim(),
    credits: Number(el.grantCredits.value),
    reason: el.grantReason.value.trim(),
  };
  if (!body.userId || !Number.isInteger(body.credits) || body.credits < 1 || !body.reason) {
    el.grantResult.dataset.state = 'error';
    replace(el.grantResult, h('div', { class: 'error-text', role: 'alert' },
      'Enter a user id, a whole number of credits (1 to 1,000,000) and a reason.'));
    return;
  }
  const grantId = grantIdFor(body);
  el.grantSubmit.disabled = true;
  el.grantResult.dataset.state = 'running';
  replace(el.grantResult, 'Granting…');
  try {
    const data = await api('grantCredits', { method: 'POST', body: { ...body, grantId }, admin: true });
    pendingGrant = null;
    el.grantResult.dataset.state = 'success';
    const title = data.granted
      ? `Granted ${pluralCredits(Number(data.credits) || 0)} to ${data.userId}.`
      : `Already granted (grant ${data.grantId}): nothing more was credited.`;
    replace(el.grantResult,
      h('p', { class: 'admin-title' }, title),
      h('dl', { class: 'kv' },
        h('dt', null, 'Balance now'), h('dd', { 'data-testid': 'grant-balance' }, formatNumber(data.currentCredits)),
        h('dt', null, 'Grant id'), h('dd', null, String(data.grantId))));
    if (data.userId === state.userId) loadCredits({ reset: true });
  } catch (err) {
    if (answered(err)) pendingGrant = null;
    el.grantResult.dataset.state = 'error';
    replace(el.grantResult, showError(h('div', { class: 'error-text', role: 'alert' }), err, 'Grant failed: '));
  } finally {
    el.grantSubmit.disabled = false;
  }
}

/** The listed users as suggestions, the acting one first. */
function offerUsers() {
  const ids = state.users.map((u) => u.userId);
  if (state.userId) ids.sort((a, b) => (b === state.userId) - (a === state.userId));
  replace(el.grantUsers, ids.map((id) => h('option', { value: id })));
}

el.grantForm.addEventListener('submit', submitGrant);
el.grantUser.addEventListener('focus', offerUsers);
