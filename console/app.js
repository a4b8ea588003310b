// The cdp web console for DPOs and auditors. Plain JavaScript, no framework, nothing from another
// origin. The API key lives in one variable of this module: never in localStorage,
// sessionStorage, cookies or a URL; reloading the page signs out. Personal data (identifiers)
// only ever travels in request bodies, never in URLs.
import { verifyExport, VerifyError } from './verify.js';

let apiKey = null; // in memory only
let me = null; // {key_id, role, region}
const audit = { records: [], page: 0, pageSize: 25, text: '', query: null };
const PAGE = 25;

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else if (v !== null && v !== undefined) node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c ?? ''));
  return node;
}

function status(message, error = false) {
  const s = $('status');
  s.textContent = message;
  s.classList.toggle('error', error);
}

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${apiKey}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer',
  });
  if (!response.ok) {
    let message = `${response.status}`;
    try {
      const e = (await response.json()).error;
      message = `${response.status} ${e.code}: ${e.message}`;
    } catch (_) { /* not JSON */ }
    throw new Error(message);
  }
  return response;
}

const getJson = async (path) => (await api('GET', path)).json();

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v !== null && v !== undefined) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

function time(ms) {
  if (ms === null || ms === undefined) return '';
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

// Saves bytes as a file through an object URL (an opaque blob: id, no data in it).
function save(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = el('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// ---- sign-in and navigation --------------------------------------------------------------------

function show(view) {
  for (const section of document.querySelectorAll('.view')) section.hidden = section.id !== `view-${view}`;
  for (const b of document.querySelectorAll('#nav button[data-view]')) {
    if (b.dataset.view === view) b.setAttribute('aria-current', 'page');
    else b.removeAttribute('aria-current');
  }
  const heading = document.querySelector(`#view-${view} h2`);
  if (heading) heading.focus();
  const loaders = { queue: loadQueue, suppressions: loadSuppressions, charts: loadCharts, audit: async () => { if (!audit.all) await loadAudit(); } };
  if (loaders[view]) loaders[view]().catch((e) => status(e.message, true));
}

async function signIn(event) {
  event.preventDefault();
  const input = $('api-key');
  apiKey = input.value.trim();
  input.value = '';
  try {
    me = await getJson('/v1/whoami');
  } catch (e) {
    apiKey = null;
    status(`Sign-in failed: ${e.message}`, true);
    return;
  }
  if (me.role !== 'dpo' && me.role !== 'auditor') {
    status(`Signed in as ${me.role}: the console is for the dpo and auditor roles.`, true);
    apiKey = null;
    return;
  }
  $('who').textContent = `Signed in: key ${me.key_id}, role ${me.role}, region ${me.region}`;
  for (const b of document.querySelectorAll('#nav button[data-role]')) b.hidden = !b.dataset.role.split(' ').includes(me.role);
  $('nav').hidden = false;
  if (![...$('queue-region').options].some((o) => o.value === me.region)) $('queue-region').append(el('option', { value: me.region }, me.region));
  $('audit-region').value = me.region;
  $('integrity-region').value = me.region;
  status('');
  show(me.role === 'dpo' ? 'queue' : 'audit');
}

function signOut() {
  apiKey = null;
  me = null;
  audit.records = [];
  audit.all = null;
  audit.text = '';
  $('nav').hidden = true;
  $('who').textContent = '';
  for (const id of ['lookup-result', 'request-progress', 'integrity-result', 'charts']) $(id).replaceChildren();
  show('signin');
  status('Signed out.');
}

// ---- DPO: the request queue ------------------------------------------------------------------------

async function loadQueue(event) {
  if (event) event.preventDefault();
  const data = await getJson('/v1/dsr' + query({ region: $('queue-region').value, type: $('queue-type').value, status: $('queue-status').value }));
  const body = $('queue-table').tBodies[0];
  body.replaceChildren(...data.requests.map((r) => el('tr', { class: r.overdue ? 'overdue' : r.on_time === false ? 'late' : '' },
    el('td', { class: 'mono' }, r.subject_request_id), el('td', {}, r.subject_request_type),
    el('td', {}, r.request_status + (r.overdue ? ' (overdue)' : r.on_time === false ? ' (late)' : '')), el('td', {}, r.received_time),
    el('td', {}, r.expected_completion_time), el('td', {}, r.days_left === null ? '' : String(r.days_left)),
    el('td', {}, r.region || ''), el('td', {}, r.outcome || ''))));
  $('queue-counts').textContent = `${data.counts.total} requests shown, ${data.counts.open} open, ${data.counts.overdue} overdue.`;
}

// ---- DPO: new request ------------------------------------------------------------------------------

let requestTimer = null;
let currentRequest = null;

async function submitRequest(event) {
  event.preventDefault();
  const id = crypto.randomUUID();
  const type = $('request-type').value;
  const body = {
    subject_request_id: id, subject_request_type: type, submitted_time: new Date().toISOString(),
    api_version: '0.1',
    subject_identities: [{ identity_type: $('request-id-type').value, identity_value: $('request-id-value').value, identity_format: 'raw' }],
  };
  $('request-download').hidden = true;
  try {
    await api('POST', '/opengdpr_requests', body);
  } catch (e) {
    status(`Request refused: ${e.message}`, true);
    return;
  }
  $('request-id-value').value = '';
  currentRequest = { id, type };
  status(`Request ${id} submitted.`);
  clearInterval(requestTimer);
  const poll = async () => {
    try {
      const s = await getJson(`/opengdpr_requests/${encodeURIComponent(id)}`);
      $('request-progress').replaceChildren(el('dl', { class: 'facts' },
        el('dt', {}, 'Request'), el('dd', { class: 'mono' }, id), el('dt', {}, 'Type'), el('dd', {}, s.subject_request_type),
        el('dt', {}, 'Status'), el('dd', { id: 'request-status' }, s.request_status), el('dt', {}, 'Due'), el('dd', {}, s.expected_completion_time),
        el('dt', {}, 'Outcome'), el('dd', {}, s.outcome || '')));
      if (s.request_status === 'completed' || s.request_status === 'cancelled') {
        clearInterval(requestTimer);
        if (s.request_status === 'completed' && s.outcome !== 'not_found') {
          const b = $('request-download');
          b.textContent = type === 'erasure' ? 'Download receipt' : 'Download result';
          b.hidden = false;
        }
      }
    } catch (e) {
      clearInterval(requestTimer);
      status(e.message, true);
    }
  };
  await poll();
  requestTimer = setInterval(poll, 1000);
}

async function downloadResult() {
  if (!currentRequest) return;
  const { id, type } = currentRequest;
  const format = type === 'portability' ? 'avro' : 'json';
  const response = await api('GET', `/opengdpr_requests/${encodeURIComponent(id)}/result?format=${format}`);
  const name = type === 'erasure' ? `receipt-${id}.json` : `${type}-${id}.${format}`;
  save(await response.blob(), name);
  status(`Saved ${name}.`);
}

// ---- DPO: person look-up -----------------------------------------------------------------------------

function table(caption, headers, rows) {
  return el('table', {}, el('caption', {}, caption),
    el('thead', {}, el('tr', {}, ...headers.map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, ...rows.map((r) => el('tr', {}, ...r.map((c) => el('td', {}, c === null || c === undefined ? '' : String(c)))))));
}

function proofText(p) {
  if (!p) return '';
  const parts = [];
  if (p.tcf) parts.push(`TCF ${p.tcf}`);
  if (p.gpc) parts.push('GPC signal');
  if (p.request_id) parts.push(`request ${p.request_id}`);
  return parts.join('; ');
}

async function lookup(event) {
  event.preventDefault();
  const identity = { type: $('lookup-type').value, value: $('lookup-value').value };
  let view;
  try {
    view = await (await api('POST', '/v1/subjects/lookup', { identity })).json();
  } catch (e) {
    $('lookup-result').replaceChildren(el('p', { class: 'verdict-fail' }, e.message));
    return;
  }
  const current = Object.entries(view.consent.current);
  $('lookup-result').replaceChildren(
    el('dl', { class: 'facts', id: 'person-facts' },
      el('dt', {}, 'Profile'), el('dd', { class: 'mono' }, view.profile_id),
      el('dt', {}, 'Region'), el('dd', {}, view.region), el('dt', {}, 'Regime'), el('dd', {}, view.regime),
      el('dt', {}, 'Restriction'), el('dd', {}, view.restricted ? 'restricted (Art. 18): kept, not served' : 'not restricted')),
    table('Identifiers', ['Type', 'Value', 'Added', 'Source'], (view.identities || []).map((i) => [i.type, i.value, time(i.added_at), i.source])),
    table('Consent now, per purpose', ['Purpose', 'State', 'Since', 'Source', 'Notice', 'Proof'],
      current.map(([p, c]) => [p, c.state, time(c.time), c.source, c.notice_version, proofText(c.proof)])),
    table('Consent history', ['Time', 'Purpose', 'State', 'Source', 'Notice', 'Proof'],
      view.consent.history.map((c) => [time(c.time), c.purpose, c.state, c.source, c.notice_version, proofText(c.proof)])),
    table('Merge history', ['Time', 'Kind', 'From', 'Into', 'Identifier type', 'Reason'],
      (view.merges || []).map((m) => [time(m.time), m.kind, m.from_profile_id, m.to_profile_id, m.identifier_type, m.reason])));
  $('lookup-value').value = '';
}

// ---- DPO: suppressions ---------------------------------------------------------------------------------

async function loadSuppressions() {
  const data = await getJson('/v1/suppressions');
  $('suppression-table').tBodies[0].replaceChildren(...data.suppressions.map((s) =>
    el('tr', {}, el('td', {}, s.region), el('td', { class: 'mono' }, s.entry), el('td', { class: 'mono' }, s.request_id || ''), el('td', {}, time(s.time)))));
}

async function lift(event) {
  event.preventDefault();
  const reason = $('lift-reason').value;
  try {
    await api('POST', '/v1/suppressions/lift', { identity: { type: $('lift-type').value, value: $('lift-value').value }, reason });
    $('lift-result').textContent = `Suppression lifted (reason: ${reason}).`;
    $('lift-result').className = 'verdict-ok';
    $('lift-value').value = '';
    await loadSuppressions();
  } catch (e) {
    $('lift-result').textContent = `Not lifted: ${e.message}`;
    $('lift-result').className = 'verdict-fail';
  }
}

// ---- Auditor: the audit log ------------------------------------------------------------------------------

function auditRange() {
  return { region: $('audit-region').value.trim(), from: $('audit-from').value.trim(), to: $('audit-to').value.trim() };
}

async function fetchExport(range, format) {
  return api('GET', '/v1/audit' + query({ ...range, format }));
}

async function loadAudit(event) {
  if (event) event.preventDefault();
  const range = auditRange();
  $('audit-summary').textContent = 'Loading the export…';
  const text = await (await fetchExport(range, 'jsonl')).text();
  audit.text = text;
  audit.query = range;
  audit.all = text.split('\n').filter((l) => l).map((l) => JSON.parse(l)).filter((i) => i.type === 'record').map((i) => i.record);
  const actor = $('audit-actor').value.trim(), operation = $('audit-operation').value.trim(), decision = $('audit-decision').value;
  audit.records = audit.all.filter((r) => (!actor || r.actor_key_id === actor) && (!operation || r.operation === operation) && (!decision || r.decision === decision));
  audit.page = 0;
  renderAudit();
}

function renderAudit() {
  const pages = Math.max(1, Math.ceil(audit.records.length / PAGE));
  audit.page = Math.min(Math.max(0, audit.page), pages - 1);
  const slice = audit.records.slice(audit.page * PAGE, audit.page * PAGE + PAGE);
  $('audit-table').tBodies[0].replaceChildren(...slice.map((r) => el('tr', { class: r.decision === 'deny' ? 'overdue' : '' },
    el('td', {}, String(r.seq)), el('td', {}, time(r.time)), el('td', { class: 'mono' }, r.actor_key_id), el('td', {}, r.actor_role),
    el('td', {}, r.operation), el('td', {}, r.purpose || ''), el('td', {}, r.decision), el('td', {}, r.reason || ''),
    el('td', { class: 'mono' }, r.profile_id || ''))));
  $('audit-page').textContent = `Page ${audit.page + 1} of ${pages}`;
  $('audit-prev').disabled = audit.page === 0;
  $('audit-next').disabled = audit.page >= pages - 1;
  $('audit-summary').textContent = `${audit.records.length} of ${audit.all.length} records in the export match.`;
}

async function exportAudit(format) {
  const range = audit.query || auditRange();
  // JSON Lines: exactly the export the table shows; Avro: the same range, fetched now.
  const blob = format === 'jsonl' && audit.text
    ? new Blob([audit.text], { type: 'application/x-ndjson' })
    : await (await fetchExport(range, format)).blob();
  save(blob, `audit-${range.region || 'default'}.${format === 'jsonl' ? 'jsonl' : 'avro'}`);
  status(`Saved the ${format === 'jsonl' ? 'JSONL' : 'Avro'} export.`);
}

// ---- Auditor: integrity -----------------------------------------------------------------------------------

async function fetchKey() {
  const region = $('integrity-region').value.trim();
  const data = await getJson('/v1/audit/pubkey' + query({ region }));
  $('integrity-pubkey').value = data.public_key;
}

async function verifyIntegrity(event) {
  event.preventDefault();
  const out = $('integrity-result');
  out.replaceChildren(el('p', {}, 'Verifying…'));
  try {
    if (!$('integrity-pubkey').value.trim()) await fetchKey();
    const text = await (await fetchExport({ region: $('integrity-region').value.trim() }, 'jsonl')).text();
    const report = await verifyExport(text, $('integrity-pubkey').value.trim());
    out.replaceChildren(
      el('p', { class: 'verdict-ok', id: 'integrity-verdict' }, `OK: the audit log of ${report.region} is intact`),
      el('dl', { class: 'facts' },
        el('dt', {}, 'Records verified'), el('dd', {}, String(report.records)),
        el('dt', {}, 'Checkpoints verified'), el('dd', {}, String(report.checkpoints)),
        el('dt', {}, 'Tree size'), el('dd', {}, String(report.treeSize)),
        el('dt', {}, 'Root'), el('dd', { class: 'mono' }, report.root),
        el('dt', {}, 'Last signed checkpoint'), el('dd', {}, el('pre', { class: 'mono' }, report.checkpoint.note))));
  } catch (e) {
    const message = e instanceof VerifyError ? e.message : `could not verify: ${e.message}`;
    out.replaceChildren(el('p', { class: 'verdict-fail', id: 'integrity-verdict' }, `FAIL: ${message}`));
  }
}

// ---- Charts (inline SVG) ---------------------------------------------------------------------------------

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

const COLORS = { allow: '#2e7d32', withhold: '#f9a825', deny: '#c62828', on_time: '#2e7d32', late: '#c62828', open: '#1f5fbf', overdue: '#ef6c00' };

// Horizontal stacked bars: rows [{label, parts: {key: n}}].
function barChart(id, title, rows, keys, description) {
  const width = 720, rowHeight = 22, left = 230, max = Math.max(1, ...rows.map((r) => keys.reduce((n, k) => n + (r.parts[k] || 0), 0)));
  const height = rows.length * rowHeight + 10;
  const chart = svg('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': `${id}-title ${id}-desc` },
    svg('title', { id: `${id}-title` }, title), svg('desc', { id: `${id}-desc` }, description));
  rows.forEach((r, i) => {
    const y = i * rowHeight + 4;
    chart.append(svg('text', { x: left - 6, y: y + 14, 'text-anchor': 'end', 'font-size': 12 }, r.label));
    let x = left;
    for (const k of keys) {
      const n = r.parts[k] || 0;
      if (!n) continue;
      const w = ((width - left - 60) * n) / max;
      chart.append(svg('rect', { x, y, width: Math.max(w, 1), height: rowHeight - 6, fill: COLORS[k] || '#607d8b' }, svg('title', {}, `${r.label}: ${k} ${n}`)));
      x += w;
    }
    chart.append(svg('text', { x: x + 4, y: y + 14, 'font-size': 12 }, keys.reduce((n, k) => n + (r.parts[k] || 0), 0)));
  });
  const legend = el('div', { class: 'legend' }, ...keys.map((k) => el('span', {}, el('span', { class: `swatch s-${k.replace('_', '')}` }), k)));
  const table = el('table', { class: 'chart-data' }, el('caption', {}, `${title} (data)`),
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, ''), ...keys.map((k) => el('th', { scope: 'col' }, k)))),
    el('tbody', {}, ...rows.map((r) => el('tr', {}, el('th', { scope: 'row' }, r.label), ...keys.map((k) => el('td', {}, String(r.parts[k] || 0)))))));
  return el('figure', { class: 'chart', id }, el('h3', {}, title), chart, legend, el('details', {}, el('summary', {}, 'Show the numbers'), table));
}

async function loadCharts() {
  const box = $('charts');
  box.replaceChildren(el('p', {}, 'Loading…'));
  const parts = [];
  if (me.role === 'auditor') {
    if (!audit.all) await loadAudit();
    const perDay = new Map(), denials = new Map();
    for (const r of audit.all) {
      const key = `${new Date(r.time).toISOString().slice(0, 10)} · ${r.purpose || 'no purpose'}`;
      if (!perDay.has(key)) perDay.set(key, {});
      const row = perDay.get(key);
      row[r.decision] = (row[r.decision] || 0) + 1;
      if (r.decision === 'deny') denials.set(r.reason || 'unspecified', (denials.get(r.reason || 'unspecified') || 0) + 1);
    }
    parts.push(barChart('chart-access', 'Accesses per day by purpose and decision',
      [...perDay.entries()].sort().map(([label, p]) => ({ label, parts: p })), ['allow', 'withhold', 'deny'],
      'Stacked bars: for each day and stated purpose, the number of decisions allowed, withheld and denied.'));
    parts.push(barChart('chart-denials', 'Denials by reason',
      [...denials.entries()].sort((a, b) => b[1] - a[1]).map(([label, n]) => ({ label, parts: { deny: n } })), ['deny'],
      'Bars: the number of denied accesses for each reason code.'));
  }
  const t = await getJson('/v1/dsr/timeliness');
  parts.push(barChart('chart-dsr', 'Data-subject requests: on time vs late',
    Object.entries(t.by_type).map(([label, c]) => ({ label, parts: { on_time: c.completed_on_time, late: c.completed_late, open: c.open_within_due, overdue: c.open_overdue } })),
    ['on_time', 'late', 'open', 'overdue'],
    `Completed on time ${t.completed_on_time}, completed late ${t.completed_late}, open within due date ${t.open_within_due}, open and overdue ${t.open_overdue}.`));
  box.replaceChildren(...parts);
}

// ---- wiring ---------------------------------------------------------------------------------------------

function wire() {
  $('signin-form').addEventListener('submit', signIn);
  $('sign-out').addEventListener('click', signOut);
  for (const b of document.querySelectorAll('#nav button[data-view]')) b.addEventListener('click', () => show(b.dataset.view));
  $('queue-form').addEventListener('submit', (e) => loadQueue(e).catch((x) => status(x.message, true)));
  $('request-form').addEventListener('submit', submitRequest);
  $('request-download').addEventListener('click', () => downloadResult().catch((x) => status(x.message, true)));
  $('lookup-form').addEventListener('submit', lookup);
  $('lift-form').addEventListener('submit', lift);
  $('audit-form').addEventListener('submit', (e) => loadAudit(e).catch((x) => status(x.message, true)));
  $('audit-prev').addEventListener('click', () => { audit.page--; renderAudit(); });
  $('audit-next').addEventListener('click', () => { audit.page++; renderAudit(); });
  $('export-jsonl').addEventListener('click', () => exportAudit('jsonl').catch((x) => status(x.message, true)));
  $('export-avro').addEventListener('click', () => exportAudit('avro').catch((x) => status(x.message, true)));
  $('integrity-fetch-key').addEventListener('click', () => fetchKey().catch((x) => status(x.message, true)));
  $('integrity-form').addEventListener('submit', verifyIntegrity);
  $('api-key').focus();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', wire);
else wire();
