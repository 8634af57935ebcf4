// The weekly report page (report.html): pick a stored report (listReports, getReport) or run one,
// then show its tiles, anomalies, SVG charts and tables.
import { api, ApiError, showError, showApiBase, runWeeklyReport } from './api.js';
import { h, s, replace, $, formatTime, formatNumber, humanize, initTheme, cssToken } from './dom.js';

const el = {
  select: $('#report-select'),
  run: $('#report-run-button'),
  reload: $('#report-reload'),
  period: $('#report-period'),
  status: $('#report-status'),
  error: $('#report-error'),
  body: $('#report-body'),
  tiles: $('#report-tiles'),
  anomalies: $('#report-anomalies'),
  charts: $('#report-charts'),
  credits: $('#report-credit-stats'),
  users: $('#report-users'),
  apiBase: $('#api-base'),
};

let loadSeq = 0;

// ---------------------------------------------------------------- formatting helpers
function utcDate(value) {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return value ? String(value) : '—';
  return d.toLocaleDateString(undefined, { timeZone: 'UTC', weekday: 'short', year: 'numeric', month: 'short', day: 'numeric' });
}

function periodText(period) {
  if (!period || !period.start_date) return '';
  // end_date is exclusive (next Monday 00:00 UTC): show the last day of the window instead.
  const end = new Date(period.end_date);
  const lastDay = Number.isNaN(end.getTime()) ? period.end_date : new Date(end.getTime() - 1).toISOString();
  return `${utcDate(period.start_date)} – ${utcDate(lastDay)} (UTC)`;
}

function pct(value) {
  return typeof value === 'number' && Number.isFinite(value) ? `${formatNumber(value, 2)}%` : '—';
}

function num(value) {
  return typeof value === 'number' ? value : Number(value) || 0;
}

function severityBadge(level, testid) {
  const text = level ? String(level) : 'unknown';
  return h('span', { class: `badge badge-${cssToken(text)}`, 'data-testid': testid }, text);
}

// ---------------------------------------------------------------- report list + loading
function requestedReportId() {
  return new URLSearchParams(location.search).get('reportId') || '';
}

function setUrlReportId(id) {
  const url = new URL(location.href);
  if (id) url.searchParams.set('reportId', id); else url.searchParams.delete('reportId');
  history.replaceState(null, '', url);
}

async function loadList(preferId) {
  el.select.disabled = true;
  let reports = [];
  try {
    const data = await api('listReports', { admin: true });
    reports = Array.isArray(data.reports) ? data.reports : [];
  } catch (err) {
    showError(el.error, err);
  }
  const options = [h('option', { value: '' }, reports.length ? 'Latest report' : 'No reports yet')];
  for (const r of reports) {
    const label = `${periodText(r.report_period) || r.id} — ${r.severity_level ?? '?'}, ${formatNumber(r.total_anomalies)} anomal${r.total_anomalies === 1 ? 'y' : 'ies'}`;
    options.push(h('option', { value: r.id }, label));
  }
  replace(el.select, options);
  el.select.disabled = reports.length === 0;
  el.select.value = reports.some((r) => r.id === preferId) ? preferId : '';
  return reports;
}

async function loadReport(reportId) {
  const seq = ++loadSeq;
  el.status.textContent = 'Loading report…';
  showError(el.error, null);
  try {
    const data = await api('getReport', { query: reportId ? { reportId } : {}, admin: true });
    if (seq !== loadSeq) return;
    const report = data.report || {};
    render(report);
    el.status.textContent = `Generated ${formatTime(report.generated_at)} · ${report.id ?? ''}`;
  } catch (err) {
    if (seq !== loadSeq) return;
    el.body.hidden = true;
    replace(el.period);
    if (err instanceof ApiError && err.status === 404) {
      el.status.textContent = 'No report found. Use "Run report now" to generate one.';
    } else {
      el.status.textContent = '';
      showError(el.error, err);
    }
  }
}

async function refresh(preferId) {
  showError(el.error, null);
  await loadList(preferId);
  await loadReport(el.select.value || preferId || '');
}

el.select.addEventListener('change', () => {
  setUrlReportId(el.select.value);
  loadReport(el.select.value);
});

el.reload.addEventListener('click', () => refresh(el.select.value));

el.run.addEventListener('click', async () => {
  el.run.disabled = true;
  const original = el.run.textContent;
  el.run.textContent = 'Running…';
  el.status.textContent = 'Running the weekly report…';
  showError(el.error, null);
  try {
    const data = await runWeeklyReport();
    const id = data.report_data?.id || '';
    setUrlReportId(id);
    await refresh(id);
  } catch (err) {
    el.status.textContent = '';
    showError(el.error, err);
  } finally {
    el.run.disabled = false;
    el.run.textContent = original;
  }
});

// ---------------------------------------------------------------- rendering
function render(report) {
  const gen = report.generation_stats || {};
  const credit = report.credit_stats || {};
  const users = report.user_stats || {};
  const anomaly = report.anomaly_analysis || {};

  el.period.textContent = report.report_period ? `Period: ${periodText(report.report_period)}` : '';
  renderTiles(gen, credit, users, anomaly);
  renderAnomalies(Array.isArray(anomaly.detected_anomalies) ? anomaly.detected_anomalies : []);

  renderCreditStats(credit);
  renderUsers(users);
  el.body.hidden = false;
  currentReport = report;
  renderCharts(report);
}

let currentReport = null;
let chartWidth = 0;

/** Chart width in SVG units follows the card's rendered width, so chart text keeps its size on any screen. */
function measureChartWidth() {
  const total = el.charts.clientWidth || 480;
  const columns = getComputedStyle(el.charts).gridTemplateColumns.split(' ').filter(Boolean).length || 1;
  const card = (total - (columns - 1) * 16) / columns - 36; // minus gaps and card padding
  return Math.round(Math.max(280, Math.min(720, card)));
}

// Per-id outcome detail is in `style_stats`/`color_stats`/`size_stats` and `model_performance`;
// `generation_stats.*_breakdown` holds only `{id: request count}` (used when the detail is absent).
function renderCharts(report) {
  const gen = report.generation_stats || {};
  chartWidth = measureChartWidth();
  replace(el.charts,
    chartCard('Model performance', 'chart-models', rowsFromModelPerformance(report.model_performance || gen.model_breakdown || {})),
    chartCard('Style breakdown', 'chart-style', rowsFromBreakdown(report.style_stats || gen.style_breakdown)),
    chartCard('Color breakdown', 'chart-color', rowsFromBreakdown(report.color_stats || gen.color_breakdown)),
    chartCard('Size breakdown', 'chart-size', rowsFromBreakdown(report.size_stats || gen.size_breakdown)));
}

let resizeTimer = null;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    if (currentReport && !el.body.hidden && Math.abs(measureChartWidth() - chartWidth) > 24) renderCharts(currentReport);
  }, 150);
});

function tile(label, value, sub, extra, testid) {
  return h('div', { class: 'tile', 'data-testid': testid },
    h('div', { class: 'tile-label' }, label),
    h('div', { class: 'tile-value' }, value, extra || null),
    sub ? h('div', { class: 'tile-sub' }, sub) : null);
}

function renderTiles(gen, credit, users, anomaly) {
  replace(el.tiles,
    tile('Total requests', formatNumber(gen.total_requests),
      `${formatNumber(gen.completed_requests)} completed · ${formatNumber(gen.failed_requests)} failed · ${formatNumber(gen.pending_requests)} pending`,
      null, 'tile-total-requests'),
    tile('Success rate', pct(gen.success_rate), `Failure rate ${pct(gen.failure_rate)}`, null, 'tile-success-rate'),
    tile('Active users', formatNumber(users.active_users_count),
      `${formatNumber(users.new_users_count)} new · ${formatNumber(users.average_requests_per_user, 2)} requests/user`, null, 'tile-active-users'),
    tile('Net credits consumed', formatNumber(credit.net_credits_consumed),
      `${formatNumber(credit.total_credits_deducted)} deducted · ${formatNumber(credit.total_credits_refunded)} refunded`, null, 'tile-net-credits'),
    tile('Credits in', formatNumber((credit.total_credits_granted ?? 0) + (credit.total_credits_purchased ?? 0)),
      `${formatNumber(credit.total_credits_granted ?? 0)} granted · ${formatNumber(credit.total_credits_purchased ?? 0)} purchased · `
        + `${formatNumber(credit.total_credits_purchase_refunded ?? 0)} taken back`, null, 'tile-credits-in'),
    tile('Revenue', revenueText(credit.revenue), 'Purchases minus refunded amounts', null, 'tile-revenue'),
    tile('Anomaly score', formatNumber(anomaly.anomaly_score, 2),
      `${formatNumber(anomaly.total_anomalies)} anomal${anomaly.total_anomalies === 1 ? 'y' : 'ies'} detected`,
      severityBadge(anomaly.severity_level, 'severity-level'), 'tile-anomaly'));
}

const SEVERITY_ORDER = { critical: 0, high: 1, medium: 2, low: 3 };

function renderAnomalies(list) {
  if (list.length === 0) {
    replace(el.anomalies, h('li', { class: 'empty', 'data-testid': 'anomalies-empty' }, 'No anomalies detected for this week.'));
    return;
  }
  const sorted = [...list].sort((a, b) => (SEVERITY_ORDER[a?.severity] ?? 9) - (SEVERITY_ORDER[b?.severity] ?? 9));
  replace(el.anomalies, sorted.map((a) => {
    const extra = Object.entries(a || {})
      .filter(([k]) => !['type', 'severity', 'description'].includes(k))
      .map(([k, v]) => `${k}: ${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`);
    return h('li', {
      class: `anomaly sev-${cssToken(a?.severity)}`,
      'data-testid': 'anomaly-item',
      'data-type': a?.type ?? '',
      'data-severity': a?.severity ?? '',
    },
    h('div', { class: 'anomaly-head' },
      severityBadge(a?.severity, 'anomaly-severity'),
      h('span', { class: 'anomaly-type', 'data-testid': 'anomaly-type' }, a?.type ?? 'unknown')),
    h('p', { class: 'anomaly-desc' }, a?.description ?? ''),
    extra.length ? h('p', { class: 'anomaly-extra' }, extra.join(' · ')) : null);
  }));
}

// ---------------------------------------------------------------- charts (hand-built SVG)
function rowsFromBreakdown(breakdown) {
  if (!breakdown || typeof breakdown !== 'object') return [];
  return Object.entries(breakdown).map(([label, v]) => {
    if (typeof v === 'number') return { label, completed: 0, failed: 0, other: v, total: v, failureRate: null };
    const total = num(v?.total ?? v?.total_requests);
    const completed = num(v?.completed ?? v?.completed_requests);
    const failed = num(v?.failed ?? v?.failed_requests);
    return { label, completed, failed, other: Math.max(0, total - completed - failed), total, failureRate: v?.failure_rate ?? null };
  }).sort((a, b) => b.total - a.total || a.label.localeCompare(b.label));
}

function rowsFromModelPerformance(perf) {
  return rowsFromBreakdown(perf).sort((a, b) => a.label.localeCompare(b.label));
}

const SEGMENTS = [
  { key: 'completed', label: 'Completed' },
  { key: 'failed', label: 'Failed' },
  { key: 'other', label: 'Pending / in progress' },
];

function chartCard(title, testid, rows) {
  const headingId = `${testid}-heading`;
  return h('section', { class: 'card chart-card', 'aria-labelledby': headingId, 'data-testid': testid },
    h('h2', { id: headingId }, title),
    h('ul', { class: 'legend', 'aria-hidden': 'true' },
      SEGMENTS.map((seg) => h('li', null, h('span', { class: `key key-${seg.key}` }), seg.label))),
    rows.length ? h('div', { class: 'chart' }, barChart(title, rows))
      : h('p', { class: 'empty' }, 'No data for this period.'));
}

function truncate(text, max) {
  const str = String(text);
  return str.length > max ? `${str.slice(0, max - 1)}…` : str;
}

function barChart(title, rows) {
  const width = chartWidth || 480;
  const labelW = Math.round(Math.min(120, width * 0.27));
  const valueW = Math.round(Math.min(120, width * 0.27));
  const rowH = 26;
  const barH = 16;
  const top = 6;
  const axisH = 22;
  const plotW = width - labelW - valueW;
  const height = top + rows.length * rowH + axisH;
  const max = Math.max(1, ...rows.map((r) => r.total));
  const ticks = niceTicks(max);
  const scaleMax = ticks[ticks.length - 1] || max;
  const x = (v) => labelW + (v / scaleMax) * plotW;

  const summary = rows.map((r) => `${r.label}: ${r.total} total, ${r.completed} completed, ${r.failed} failed`).join('; ');
  const svg = s('svg', {
    viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': `${title}. ${summary}`,
    preserveAspectRatio: 'xMinYMin meet',
  }, s('title', null, title));

  for (const t of ticks) {
    svg.append(
      s('line', { class: 'grid-line', x1: x(t), x2: x(t), y1: top, y2: top + rows.length * rowH }),
      s('text', { class: 'axis-label', x: x(t), y: height - 6, 'text-anchor': 'middle' }, formatNumber(t)));
  }

  rows.forEach((r, i) => {
    const y = top + i * rowH + (rowH - barH) / 2;
    const g = s('g', { class: 'bar-row' });
    const label = s('text', { class: 'bar-label', x: labelW - 8, y: y + barH / 2, 'dominant-baseline': 'middle', 'text-anchor': 'end' },
      truncate(humanize(r.label), Math.max(8, Math.floor(labelW / 7.5))));
    label.append(s('title', null, r.label));
    g.append(label);
    let offset = 0;
    for (const seg of SEGMENTS) {
      const value = r[seg.key];
      if (!value) continue;
      const rect = s('rect', {
        class: `seg-${seg.key}`, x: x(offset), y, width: Math.max(0, x(offset + value) - x(offset)), height: barH, rx: 2,
      });
      rect.append(s('title', null, `${r.label} — ${seg.label}: ${value}`));
      g.append(rect);
      offset += value;
    }
    const rate = r.failureRate !== null && r.failureRate !== undefined
      ? ` · ${formatNumber(num(r.failureRate), width < 400 ? 0 : 1)}% fail` : '';
    g.append(s('text', { class: 'bar-value', x: x(r.total) + 6, y: y + barH / 2, 'dominant-baseline': 'middle' },
      `${formatNumber(r.total)}${rate}`));
    svg.append(g);
  });
  return svg;
}

function niceTicks(max) {
  const rough = max / 4;
  const pow = 10 ** Math.floor(Math.log10(rough || 1));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * pow).find((st) => st >= rough) || pow * 10;
  const ticks = [];
  for (let v = 0; v <= max + step * 0.999; v += step) ticks.push(Math.round(v * 1000) / 1000);
  return ticks.length > 1 ? ticks : [0, max];
}

// ---------------------------------------------------------------- tables
function renderCreditStats(credit) {
  const entries = Object.entries(credit || {});
  if (!entries.length) { replace(el.credits, h('p', { class: 'empty' }, 'No credit data.')); return; }
  replace(el.credits, h('table', { 'data-testid': 'credit-stats-table' },
    h('caption', null, 'Credit movements in the report window'),
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Metric'), h('th', { scope: 'col', class: 'num' }, 'Value'))),
    h('tbody', null, entries.map(([k, v]) => h('tr', null,
      h('th', { scope: 'row' }, humanize(k)),
      h('td', { class: 'num' }, k === 'revenue' ? revenueText(v)
        : typeof v === 'number' ? formatNumber(v, 2) : JSON.stringify(v)))))));
}

/** `{usd: 1999, eur: 450}` (each in its currency's smallest unit) -> "$19.99 · €4.50"; "—" when none. */
function revenueText(revenue) {
  const entries = Object.entries(revenue && typeof revenue === 'object' ? revenue : {});
  if (!entries.length) return '—';
  return entries.map(([currency, amount]) => {
    try {
      const format = new Intl.NumberFormat(undefined, { style: 'currency', currency: currency.toUpperCase() });
      return format.format(Number(amount) / 10 ** format.resolvedOptions().maximumFractionDigits);
    } catch {
      return `${formatNumber(Number(amount))} ${currency}`; // not a currency Intl knows
    }
  }).join(' · ');
}

/** Flattens {userId: number | {k: v}} maps into columns; tolerant of either shape. */
function collectColumns(map, prefix) {
  const columns = new Map(); // key -> header
  for (const value of Object.values(map || {})) {
    if (value === null || typeof value !== 'object') columns.set('', prefix);
    else for (const [k, v] of Object.entries(value)) if (v === null || typeof v !== 'object') columns.set(k, `${prefix}: ${humanize(k)}`);
  }
  return [...columns.entries()].map(([key, header]) => ({ key, header }));
}

function cellValue(map, userId, key) {
  const value = map?.[userId];
  if (value === undefined || value === null) return '';
  const v = key === '' ? (typeof value === 'object' ? '' : value) : (typeof value === 'object' ? value[key] : '');
  if (v === undefined || v === null) return '';
  return typeof v === 'number' ? formatNumber(v, 2) : String(v);
}

function renderUsers(userStats) {
  const requestMap = userStats.user_request_breakdown && typeof userStats.user_request_breakdown === 'object' ? userStats.user_request_breakdown : {};
  const creditMap = userStats.user_credit_breakdown && typeof userStats.user_credit_breakdown === 'object' ? userStats.user_credit_breakdown : {};
  const active = Array.isArray(userStats.active_users) ? userStats.active_users.map(String) : [];
  const ids = [...new Set([...Object.keys(requestMap), ...Object.keys(creditMap), ...active])];
  if (!ids.length) { replace(el.users, h('p', { class: 'empty' }, 'No active users in this period.')); return; }
  const reqCols = collectColumns(requestMap, 'Requests');
  const creditCols = collectColumns(creditMap, 'Credits');
  const sortKey = (id) => {
    const v = requestMap[id];
    if (typeof v === 'number') return v;
    if (v && typeof v === 'object') return num(v.total ?? v.total_requests ?? v.requests);
    return 0;
  };
  ids.sort((a, b) => sortKey(b) - sortKey(a) || a.localeCompare(b));
  replace(el.users, h('table', { 'data-testid': 'user-table' },
    h('caption', null, `${ids.length} user${ids.length === 1 ? '' : 's'} with activity`),
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, 'User'),
      reqCols.map((c) => h('th', { scope: 'col', class: 'num' }, c.header)),
      creditCols.map((c) => h('th', { scope: 'col', class: 'num' }, c.header)))),
    h('tbody', null, ids.map((id) => h('tr', { 'data-testid': 'user-row' },
      h('th', { scope: 'row' }, id),
      reqCols.map((c) => h('td', { class: 'num' }, cellValue(requestMap, id, c.key))),
      creditCols.map((c) => h('td', { class: 'num' }, cellValue(creditMap, id, c.key))))))));
}

// ---------------------------------------------------------------- boot
initTheme($('#theme-toggle'));
showApiBase(el.apiBase);
refresh(requestedReportId());
