'use strict';
// The operator's console: one EventSource on /events keeps the state (the
// deployments' summaries, the fleet, the associations); views render from it.
// A deployment's detail and its failed targets are read on demand
// (/deployments/{id}, /deployments/{id}/failed a page at a time) and read
// again when its summary changes.
const STATES = ['SUCCESS', 'SKIPPED', 'FAILED', 'TIMED_OUT', 'REJECTED', 'CANCELLED', 'IN_PROGRESS', 'PENDING'];
const TERMINAL = ['SUCCESS', 'SKIPPED', 'FAILED', 'TIMED_OUT', 'REJECTED', 'CANCELLED'];
const ROW = 26;    // px, a failed target's row (.vrow)
const PAGE = 200;  // failed targets fetched at once
const $ = id => document.getElementById(id);
const enc = encodeURIComponent;

const state = {deployments: new Map(), fleet: null, associations: null, ready: null, snapshots: 0,
               view: 'deployments', id: null};

// el('td', {class: 'num', title: 'x'}, child, ...): an element; strings become text, never HTML.
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) e.setAttribute(k, v);
  for (const c of children) if (c !== undefined && c !== null) e.append(c instanceof Node ? c : String(c));
  return e;
}
function when(ms) {
  if (!ms) return '';
  const d = new Date(ms);
  return d.toDateString() === new Date().toDateString() ? d.toLocaleTimeString() : d.toLocaleString();
}
function took(d) {
  if (!d.started_at_ms) return '';
  const end = d.finished_at_ms || d.updated_at_ms;
  const s = Math.max(0, (end - d.started_at_ms) / 1000);
  return s < 120 ? s.toFixed(1) + ' s' : s < 7200 ? (s / 60).toFixed(1) + ' min' : (s / 3600).toFixed(1) + ' h';
}
function done(counts) { return TERMINAL.reduce((n, s) => n + (counts[s] || 0), 0); }
function failed(counts) { return ['FAILED', 'TIMED_OUT', 'REJECTED', 'CANCELLED'].reduce((n, s) => n + (counts[s] || 0), 0); }
function num(n) { return Number(n).toLocaleString('en-US'); }
function plural(n, word) { return n + ' ' + word + (n === 1 ? '' : 's'); }
function bar(counts, total, wide) {
  const b = el('div', {class: wide ? 'bar wide' : 'bar', title: STATES.map(s => s + ' ' + (counts[s] || 0)).join(', ')});
  for (const s of STATES) {
    if (!counts[s] || !total) continue;
    const seg = el('span', {class: s});
    seg.style.width = (100 * counts[s] / total) + '%';
    b.append(seg);
  }
  return b;
}
function badge(status) { return el('span', {class: 'status ' + status}, status); }
// Keep a <select>'s options as [value, label] pairs, and its choice while it is still offered.
function setOptions(select, first, pairs) {
  const keep = select.value;
  select.replaceChildren(el('option', {value: ''}, first), ...pairs.map(([v, label]) => el('option', {value: v}, label)));
  select.value = pairs.some(([v]) => v === keep) ? keep : '';
}

// ---- the event stream ----------------------------------------------------------
function setConn(text, cls) { const c = $('conn'); c.textContent = text; c.className = 'conn ' + cls; }
function connect() {
  const es = new EventSource('events');
  es.onopen = () => setConn('live', 'live');
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED) { // refused (503) or gone: try again a little later
      setConn('disconnected', 'down');
      setTimeout(connect, 5000);
    } else {
      setConn('reconnecting', 'wait');
    }
  };
  es.addEventListener('snapshot', e => {
    const s = JSON.parse(e.data);
    state.deployments = new Map(s.deployments.map(d => [d.deployment_id, d]));
    state.fleet = s.fleet;
    state.associations = s.associations || null;
    state.ready = s.ready;
    state.snapshots++;
    changed(null);
  });
  es.addEventListener('deployment', e => {
    const d = JSON.parse(e.data);
    state.deployments.set(d.deployment_id, d);
    changed(d.deployment_id);
  });
  es.addEventListener('removed', e => {
    state.deployments.delete(JSON.parse(e.data).deployment_id);
    changed(null);
  });
  es.addEventListener('fleet', e => { state.fleet = JSON.parse(e.data); schedule(); });
  es.addEventListener('associations', e => { state.associations = JSON.parse(e.data); schedule(); });
  es.addEventListener('ready', e => { state.ready = JSON.parse(e.data).ready; schedule(); });
}

let pending = false;
function schedule() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => { pending = false; render(); });
}
function changed(id) {
  schedule();
  if (state.view === 'deployment' && (id === null || id === state.id)) refreshDetail();
}

// ---- routing: #/deployments?q=&status=&package=, #/deployment/ID?state=&reason=&location=&q=, #/fleet?package=&drift=1
const FILTERS = {deployments: {q: 'dep-q', status: 'dep-status', package: 'dep-package'},
                 deployment: {q: 'f-q', state: 'f-state', reason: 'f-reason', location: 'f-location'},
                 fleet: {package: 'fleet-package', drift: 'fleet-drift'},
                 associations: {q: 'assoc-q'}};
function route() {
  const [path, query] = location.hash.replace(/^#\/?/, '').split('?');
  const parts = path.split('/');
  let view = 'deployments', id = null;
  if (parts[0] === 'deployment' && parts.length > 1) { view = 'deployment'; id = decodeURIComponent(parts.slice(1).join('/')); }
  else if (parts[0] === 'fleet' || parts[0] === 'associations') view = parts[0];
  const params = new URLSearchParams(query || '');
  for (const [name, input] of Object.entries(FILTERS[view])) {
    const v = params.get(name) || '';
    const e = $(input);
    if (e.type === 'checkbox') e.checked = v === '1';
    else if (e.tagName === 'SELECT' && v && ![...e.options].some(o => o.value === v)) e.append(el('option', {value: v}, v));
    if (e.type !== 'checkbox') e.value = v;
  }
  const opened = view === 'deployment' && id !== state.id;
  state.view = view;
  state.id = id;
  for (const s of document.querySelectorAll('.view')) s.classList.toggle('on', s.id === 'view-' + view);
  for (const a of document.querySelectorAll('#tabs a'))
    a.classList.toggle('on', a.dataset.view === (view === 'deployment' ? 'deployments' : view));
  if (opened) openDetail();
  schedule();
}
// The filters of the view into the address, so that a link shows what this page shows.
function syncHash() {
  const params = new URLSearchParams();
  for (const [name, input] of Object.entries(FILTERS[state.view])) {
    const e = $(input);
    const v = e.type === 'checkbox' ? (e.checked ? '1' : '') : e.value;
    if (v) params.set(name, v);
  }
  const path = state.view === 'deployment' ? 'deployment/' + enc(state.id) : state.view;
  const q = params.toString();
  history.replaceState(null, '', '#/' + path + (q ? '?' + q : ''));
}

// ---- views -----------------------------------------------------------------------
function render() {
  if (state.view === 'deployments') renderDeployments();
  else if (state.view === 'deployment') renderDetailHead();
  else if (state.view === 'fleet') renderFleet();
  else renderAssociations();
}

function renderDeployments() {
  const all = [...state.deployments.values()]
    .sort((a, b) => (b.started_at_ms - a.started_at_ms) || (a.deployment_id < b.deployment_id ? -1 : 1));
  setOptions($('dep-package'), 'every package', [...new Set(all.map(d => d.package).filter(p => p))].sort().map(p => [p, p]));
  const q = $('dep-q').value.trim().toLowerCase();
  const st = $('dep-status').value;
  const pkg = $('dep-package').value;
  const shown = all.filter(d =>
    (!q || (d.deployment_id + ' ' + d.package + ' ' + d.version).toLowerCase().includes(q)) &&
    (!st || (st === 'active' ? d.status === 'PENDING' || d.status === 'IN_PROGRESS' : d.status === st)) &&
    (!pkg || d.package === pkg));
  const rows = $('dep-rows');
  const focused = rows.contains(document.activeElement) ? document.activeElement.dataset.id : null;
  rows.replaceChildren();
  if (!shown.length)
    rows.append(el('tr', {}, el('td', {colspan: 8, class: 'empty'}, all.length ? 'No deployment matches the filters.' : 'No deployments yet.')));
  for (const d of shown) {
    const row = el('tr', {class: 'row', 'data-id': d.deployment_id, 'data-status': d.status},
      el('td', {}, d.deployment_id),
      el('td', {}, d.package + (d.version ? ' ' + d.version : '')),
      el('td', {}, badge(d.status)),
      el('td', {}, bar(d.counts, d.total)),
      el('td', {class: 'num'}, num(done(d.counts)) + ' / ' + num(d.total)),
      el('td', {class: 'num' + (d.failed_total ? ' bad' : '')}, num(d.failed_total)),
      el('td', {}, when(d.started_at_ms)),
      el('td', {class: 'num'}, took(d)));
    row.tabIndex = 0; // reachable and opened from the keyboard too
    const open = () => { location.hash = '#/deployment/' + enc(d.deployment_id); };
    row.addEventListener('click', open);
    row.addEventListener('keydown', e => { if (e.key === 'Enter') open(); });
    rows.append(row);
    if (d.deployment_id === focused) row.focus(); // an update does not take the keyboard's place away
  }
  const running = all.filter(d => d.status === 'IN_PROGRESS' || d.status === 'PENDING').length;
  $('dep-note').textContent = (shown.length < all.length ? shown.length + ' of ' : '') + plural(all.length, 'deployment') +
    ' \u00b7 ' + running + ' running' + (state.ready === false ? ' \u00b7 the aggregator is catching up' : '');
}

// ---- one deployment: its summary, its locations, its failed targets (virtualised) ----
const detail = {info: null, pages: new Map(), matched: 0, total: 0, facets: null, generation: 0,
                loading: new Set(), refreshing: false, again: false, last: 0};

function renderDetailHead() {
  const d = state.deployments.get(state.id) || (detail.info && detail.info.deployment_id === state.id ? detail.info : null);
  const head = $('d-head');
  head.replaceChildren();
  if (!d) { head.append(el('h2', {}, state.id), el('p', {class: 'muted'}, 'No such deployment here (yet).')); return; }
  const chips = el('div', {class: 'chips'});
  for (const s of STATES) {
    if (!d.counts[s]) continue;
    const dot = el('span', {class: 'dot ' + s});
    chips.append(el('span', {class: 'chip', 'data-state': s}, dot, s + ' ', el('b', {}, num(d.counts[s]))));
  }
  const short = d.expected_total > d.total ? ' \u00b7 ' + (d.expected_total - d.total) + ' jobs no longer in Kafka' : '';
  head.append(el('h2', {}, d.deployment_id, ' ', badge(d.status)),
    el('div', {class: 'muted'}, (d.package || '?') + ' ' + (d.version || '') + ' \u00b7 ' + num(done(d.counts)) + ' of ' +
       num(d.total) + ' done \u00b7 started ' + when(d.started_at_ms) + ' \u00b7 ' + took(d) + short),
    bar(d.counts, d.total, true), chips);
}

function renderLocations() {
  const rows = $('d-locations');
  rows.replaceChildren();
  const locs = detail.info ? detail.info.locations : [];
  if (!locs.length) rows.append(el('tr', {}, el('td', {colspan: 6, class: 'empty'}, detail.info ? 'None.' : 'loading\u2026')));
  for (const l of locs)
    rows.append(el('tr', {}, el('td', {}, l.account), el('td', {}, l.region), el('td', {}, bar(l.counts, l.total)),
      el('td', {class: 'num'}, done(l.counts)), el('td', {class: 'num' + (failed(l.counts) ? ' bad' : '')}, failed(l.counts)),
      el('td', {class: 'num'}, l.total)));
}

function failedQuery() {
  const p = new URLSearchParams();
  for (const [name, input] of [['q', 'f-q'], ['state', 'f-state'], ['reason', 'f-reason']])
    if ($(input).value) p.set(name, $(input).value);
  const loc = $('f-location').value;
  if (loc) { const i = loc.indexOf('/'); p.set('account', loc.slice(0, i)); p.set('region', loc.slice(i + 1)); }
  return p.toString();
}

async function getJson(path) {
  const r = await fetch(path, {cache: 'no-store'});
  if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
  return r.json();
}

function openDetail() {
  detail.info = null;
  detail.last = 0;
  resetFailed();
  refreshDetail();
}
function resetFailed() {
  detail.generation++;
  detail.pages.clear();
  detail.loading.clear();
  detail.matched = 0;
  detail.facets = null;
  $('f-scroll').scrollTop = 0;
  loadPage(0);
}
// Read the deployment and the failed pages on screen again: at most once a second, never two at once.
async function refreshDetail() {
  if (detail.refreshing) { detail.again = true; return; }
  const wait = detail.last + 1000 - Date.now();
  if (wait > 0) { detail.refreshing = true; setTimeout(() => { detail.refreshing = false; refreshDetail(); }, wait); return; }
  detail.refreshing = true;
  detail.last = Date.now();
  const id = state.id;
  try {
    const info = await getJson('deployments/' + enc(id) + '?failed=0');
    if (id === state.id) { detail.info = info; renderLocations(); schedule(); }
  } catch (e) {
    if (id === state.id && !detail.info) $('d-locations').replaceChildren(el('tr', {}, el('td', {colspan: 6, class: 'empty'}, e.message)));
  }
  for (const offset of visiblePages()) await loadPage(offset, true);
  detail.refreshing = false;
  if (detail.again) { detail.again = false; refreshDetail(); }
}
function visiblePages() {
  const box = $('f-scroll');
  const first = Math.floor(box.scrollTop / ROW), last = first + Math.ceil((box.clientHeight || 420) / ROW);
  const pages = new Set();
  for (let i = Math.floor(first / PAGE) * PAGE; i <= last; i += PAGE) pages.add(i);
  return [...pages];
}
async function loadPage(offset, again) {
  if (detail.loading.has(offset) || (!again && detail.pages.has(offset))) return;
  const generation = detail.generation, id = state.id;
  detail.loading.add(offset);
  try {
    const page = await getJson('deployments/' + enc(id) + '/failed?offset=' + offset + '&limit=' + PAGE + '&' + failedQuery());
    if (generation !== detail.generation || id !== state.id) return;
    detail.pages.set(offset, page.targets);
    detail.matched = page.matched;
    detail.total = page.failed_total;
    detail.facets = page;
  } catch (e) {
    if (generation === detail.generation) $('f-count').textContent = e.message;
    return;
  } finally {
    if (generation === detail.generation) detail.loading.delete(offset);
  }
  renderFailed();
}
function renderFacets() {
  const f = detail.facets;
  if (!f) return;
  const counted = o => Object.entries(o).sort((a, b) => b[1] - a[1]).map(([v, n]) => [v, (v || '(none)') + ' \u2014 ' + n]);
  setOptions($('f-state'), 'every state', counted(f.by_state));
  setOptions($('f-reason'), 'every reason', counted(f.by_reason));
  setOptions($('f-location'), 'every account and region',
    f.by_location.map(l => [l.account + '/' + l.region, l.account + ' ' + l.region + ' \u2014 ' + l.count]));
}
function renderFailed() {
  renderFacets();
  const box = $('f-scroll'), spacer = $('f-spacer');
  const first = Math.floor(box.scrollTop / ROW);
  const last = Math.min(detail.matched, first + Math.ceil((box.clientHeight || 420) / ROW) + 1);
  $('f-count').textContent = !detail.facets ? 'loading\u2026'
    : (detail.matched < detail.total ? num(detail.matched) + ' of ' : '') + num(detail.total) + ' \u00b7 ' +
      (detail.matched ? 'rows ' + num(first + 1) + '\u2013' + num(Math.min(last, detail.matched)) + ', read ' + PAGE + ' at a time as you scroll' : '');
  spacer.style.height = (detail.matched * ROW) + 'px';
  for (const r of [...box.querySelectorAll('.vrow')]) r.remove();
  if (detail.facets && !detail.matched) {
    const none = el('div', {class: 'vrow muted'}, el('span', {}, detail.total ? 'No failed target matches the filters.' : 'No failed targets.'));
    none.style.top = '0px';
    box.append(none);
  }
  for (let i = first; i < last; i++) {
    const offset = Math.floor(i / PAGE) * PAGE;
    const page = detail.pages.get(offset);
    const t = page && page[i - offset];
    const row = t
      ? el('div', {class: 'vrow', 'data-target': t.target_id},
          el('span', {title: t.job_id}, t.target_id), el('span', {}, t.state), el('span', {class: 'reason'}, t.reason),
          el('span', {}, t.account + ' ' + t.region), el('span', {title: t.message}, t.message))
      : el('div', {class: 'vrow loading'}, el('span', {}, 'loading\u2026'));
    row.style.top = (i * ROW) + 'px';
    box.append(row);
    if (!page) loadPage(offset);
  }
}

// ---- the fleet ---------------------------------------------------------------------
function renderFleet() {
  const packages = state.fleet ? state.fleet.packages : {};
  const names = Object.keys(packages).sort();
  setOptions($('fleet-package'), 'every package', names.map(n => [n, n]));
  const only = $('fleet-package').value, drift = $('fleet-drift').checked;
  const cards = $('fleet-cards');
  cards.replaceChildren();
  let targets = 0, drifted = 0, shown = 0;
  for (const name of names) {
    const p = packages[name];
    targets += p.targets;
    drifted += p.drifted.length;
    if ((only && name !== only) || (drift && !p.drifted.length)) continue;
    shown++;
    const versions = Object.keys(p.versions).sort((a, b) => a.localeCompare(b, undefined, {numeric: true}));
    const colour = v => 'v' + (versions.indexOf(v) % 8);
    const vbar = el('div', {class: 'bar wide', title: versions.map(v => v + ': ' + p.versions[v]).join(', ')});
    const legend = el('div', {class: 'chips'});
    for (const v of versions) {
      const seg = el('span', {class: colour(v)});
      seg.style.width = (100 * p.versions[v] / Math.max(1, p.targets)) + '%';
      vbar.append(seg);
      legend.append(el('span', {class: 'chip', 'data-version': v}, el('span', {class: 'dot ' + colour(v)}), v + ' ', el('b', {}, p.versions[v])));
    }
    const locs = el('table', {class: 'list compact'},
      el('thead', {}, el('tr', {}, el('th', {}, 'Account'), el('th', {}, 'Region'), el('th', {}, 'Versions'))));
    const body = el('tbody');
    for (const l of p.locations) {
      const chips = el('div', {class: 'chips tight'});
      for (const [v, n] of Object.entries(l.versions))
        chips.append(el('span', {class: 'chip'}, el('span', {class: 'dot ' + colour(v)}), v + ' \u00d7 ' + n));
      body.append(el('tr', {}, el('td', {}, l.account), el('td', {}, l.region), el('td', {}, chips)));
    }
    locs.append(body);
    const card = el('div', {class: 'card', 'data-package': name},
      el('h3', {}, name + ' ', el('span', {class: 'muted'}, '\u00b7 ' + plural(p.targets, 'target') + ' \u00b7 ' +
         plural(versions.length, 'version') + (p.drifted.length ? '' : ' \u00b7 no drift')),
         p.drifted.length ? el('span', {class: 'status FAILED'}, p.drifted.length + ' drifted') : null),
      vbar, legend, locs);
    if (p.drifted.length) {
      const dt = el('table', {class: 'list compact drift'},
        el('thead', {}, el('tr', {}, el('th', {}, 'Drifted target'), el('th', {}, 'Expected'), el('th', {}, 'Found'),
          el('th', {}, 'Found at'), el('th', {}, 'Put back'), el('th', {}, 'Now'))));
      const tb = el('tbody');
      for (const d of p.drifted)
        tb.append(el('tr', {}, el('td', {}, d.target_id), el('td', {}, d.expected || '(none)'), el('td', {}, d.found || '(none)'),
          el('td', {}, when(d.at_ms)), el('td', {}, d.repaired ? 'yes' : 'no'), el('td', {}, d.version || '(none)')));
      dt.append(tb);
      card.append(el('h2', {}, 'Drift'), dt);
    }
    cards.append(card);
  }
  if (!shown) cards.append(el('p', {class: 'empty'}, names.length ? 'No package matches the filters.' : 'Nothing installed yet.'));
  $('fleet-note').textContent = plural(names.length, 'package') + ' \u00b7 ' + plural(targets, 'installation') +
    (drifted ? ' \u00b7 ' + drifted + ' drifted' : '');
}

// ---- associations and their next run -------------------------------------------------
function nextRun(a) {
  if (a.schedule_error) return el('span', {class: 'bad', title: a.schedule_error}, 'bad schedule');
  if (a.next_run_ms === null) return el('span', {class: 'muted'}, a.schedule ? 'no tick left' : 'no schedule');
  if (a.due || a.next_run_ms <= Date.now()) return el('span', {class: 'status IN_PROGRESS'}, 'due now');
  const mins = Math.round((a.next_run_ms - Date.now()) / 60000);
  const rel = mins < 60 ? 'in ' + plural(mins, 'minute') : mins < 2880 ? 'in ' + plural(Math.round(mins / 60), 'hour') : 'in ' + plural(Math.round(mins / 1440), 'day');
  return el('span', {title: new Date(a.next_run_ms).toISOString()}, when(a.next_run_ms) + ' ', el('span', {class: 'muted'}, '(' + rel + ')'));
}
function renderAssociations() {
  const rows = $('assoc-rows');
  rows.replaceChildren();
  const list = state.associations ? state.associations.associations : [];
  const q = $('assoc-q').value.trim().toLowerCase();
  const shown = list.filter(a => !q || [a.association_id, a.name, a.package, a.selection, a.schedule].join(' ').toLowerCase().includes(q))
    .sort((a, b) => ((a.next_run_ms ?? Infinity) - (b.next_run_ms ?? Infinity)) || (a.association_id < b.association_id ? -1 : 1));
  for (const a of shown) {
    const triggers = [a.schedule, a.run_on_default_change ? 'on a new default' : '', a.run_on_launch ? 'on launch' : '']
      .filter(t => t).join(' \u00b7 ');
    const last = a.last_run_ms
      ? el('span', {}, when(a.last_run_ms) + ' ', a.last_deployment_id ? el('a', {href: '#/deployment/' + enc(a.last_deployment_id)}, a.last_deployment_id) : null)
      : el('span', {class: 'muted'}, 'never');
    rows.append(el('tr', {'data-association': a.association_id, 'data-due': a.due ? '1' : '0'},
      el('td', {}, a.name || a.association_id, a.name && a.name !== a.association_id ? el('div', {class: 'muted'}, a.association_id) : null),
      el('td', {}, (a.action === 'uninstall' ? 'remove ' : '') + a.package + ' ' + a.version),
      el('td', {class: 'reason'}, triggers || 'on create only'),
      el('td', {class: 'next-run'}, nextRun(a)),
      el('td', {}, last),
      el('td', {class: 'reason'}, a.selection)));
  }
  if (!shown.length)
    rows.append(el('tr', {}, el('td', {colspan: 6, class: 'empty'},
      state.associations ? (list.length ? 'No association matches the filter.' : 'No associations.') : 'This aggregator does not read the associations.')));
  $('assoc-note').textContent = state.associations ? plural(list.length, 'association') + ' \u00b7 next runs in UTC schedules, shown in local time' : '';
}

// ---- wiring --------------------------------------------------------------------------
for (const [view, inputs] of Object.entries(FILTERS))
  for (const input of Object.values(inputs)) {
    const e = $(input);
    e.addEventListener(e.tagName === 'SELECT' || e.type === 'checkbox' ? 'change' : 'input', () => {
      syncHash();
      if (view === 'deployment') resetFailed(); else schedule();
    });
  }
$('f-scroll').addEventListener('scroll', () => requestAnimationFrame(renderFailed));
window.addEventListener('hashchange', route);
route();
connect();
