// liveset status page. Plain browser JavaScript, served by the server itself: no build step, no CDN.
// It draws /ui/overview.json (status-get of every server + the pool's records), redraws on every
// event pushed over the /ws WebSocket, and polls as well because peers' changes arrive only there.
'use strict';

const params = new URLSearchParams(location.search);
const REFRESH_MS = Number(params.get('refresh')) || 1000;
const TIMELINE_MAX = 200;

/** HA states by colour: serving normally, degraded but serving, not serving, operator-driven. */
const STATE_CLASS = {
  'load-balancing': 'ok', 'hot-standby': 'ok', 'passive-backup': 'ok', backup: 'ok',
  'partner-down': 'bad', terminated: 'bad', unavailable: 'bad',
  waiting: 'warn', syncing: 'warn', ready: 'warn', 'communication-recovery': 'warn',
  'in-maintenance': 'info', 'partner-in-maintenance': 'info',
};
/** status-get keys drawn in the card header or in their own block; every other key is listed as is. */
const CORE_KEYS = new Set(['server', 'url', 'pid', 'uptime', 'reload', 'libraries', 'high-availability', 'pool']);
const HA_LOCAL_SHOWN = new Set(['state', 'paused', 'paused-state', 'scopes', 'role', 'server-name', 'system-time']);
const HA_REMOTE_SHOWN = new Set(['last-state', 'age', 'clock-skew', 'in-touch', 'communication-interrupted', 'server-name', 'role', 'last-scopes']);
const HOST_SHOWN = new Set(['name_label', 'address', 'enabled', 'metrics', 'uuid', 'resident_VMs']);
const VM_SHOWN = new Set(['name_label', 'power_state', 'ha_restart_priority', 'resident_on', 'uuid']);

let overview = null;
/** The last pool master an overview named, for the timeline. */
let lastMaster = null;
let timeline = [];
let socket = null;
let inFlight = false;
let again = false;

const $ = (id) => document.getElementById(id);
const esc = (v) => String(v).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const badge = (text, cls, field) => `<span class="badge ${cls || ''}"${field ? ` data-field="${esc(field)}"` : ''}>${esc(text)}</span>`;
const stateBadge = (s, field) => badge(s || 'unknown', STATE_CLASS[s] || '', field);

/** Any value, drawn without knowing its meaning: scalars as text, small lists inline, the rest as JSON. */
function show(v) {
  if (v === null || v === undefined || v === '') return '<span class="muted">—</span>';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (Array.isArray(v) && v.every((x) => typeof x !== 'object')) return v.length ? esc(v.join(', ')) : '<span class="muted">none</span>';
  if (typeof v === 'object') return `<pre>${esc(JSON.stringify(v, null, 1))}</pre>`;
  return esc(v);
}
const row = (k, v, field) => `<dt>${esc(k)}</dt><dd${field ? ` data-field="${esc(field)}"` : ''}>${v}</dd>`;
const rows = (obj, skip) => Object.entries(obj || {}).filter(([k]) => !skip.has(k)).map(([k, v]) => row(k, show(v), k)).join('');

function haBlock(server, entry) {
  const servers = entry['ha-servers'] || {};
  const local = servers.local || {};
  const remote = servers.remote;
  const paused = local.paused === true;
  let html = `<h4>HA · ${esc(entry['ha-mode'] || '')}</h4><dl>`;
  html += row('state', stateBadge(local.state, 'state'));
  html += row('paused', paused ? badge(`paused in ${local['paused-state'] || local.state}`, 'warn', 'paused') : badge('running', 'plain', 'paused'));
  html += row('role', show(local.role));
  html += row('scopes', show(local.scopes), 'scopes');
  if (remote) {
    html += row(`partner ${remote['server-name'] || ''}`, stateBadge(remote['last-state'] || 'unknown', 'partner-state'));
    html += row('heartbeat age', `${show(remote.age)} s`, 'heartbeat-age');
    html += row('clock skew', `${show(remote['clock-skew'])} s`, 'clock-skew');
    html += row('in touch', show(remote['in-touch']), 'in-touch');
    html += row('communication interrupted', show(remote['communication-interrupted']), 'communication-interrupted');
    html += rows(remote, HA_REMOTE_SHOWN);
  }
  html += rows(local, HA_LOCAL_SHOWN);
  html += rows(entry, new Set(['ha-mode', 'ha-servers']));
  html += '</dl>';
  if (server.reachable) {
    const b = (cmd, label) => `<button type="button" data-cmd="${cmd}" data-server="${esc(server.name)}">${label}</button>`;
    html += `<div class="buttons">${paused ? b('ha-continue', 'Continue') : ''}${b('ha-maintenance-start', 'Start maintenance')}${b('ha-maintenance-cancel', 'Cancel maintenance')}${b('ha-reset', 'Reset')}</div>`;
  }
  return html;
}

function serverCard(s) {
  const st = s.status || {};
  let html = `<article class="card${s.reachable ? '' : ' down'}" data-server="${esc(s.name)}"><h3>${esc(s.name)}`;
  if (s.self) html += badge('this server', 'plain');
  html += s.reachable ? badge('up', 'ok', 'reachable') : badge('unreachable', 'bad', 'reachable');
  html += `</h3><dl>${row('url', esc(s.url))}`;
  if (s.status) html += row('uptime', `${show(st.uptime)} s`) + row('pid', show(st.pid)) + row('libraries', show(st.libraries));
  if (s.error) html += row('error', esc(s.error), 'error');
  html += '</dl>';
  for (const entry of Array.isArray(st['high-availability']) ? st['high-availability'] : []) html += haBlock(s, entry);
  if (st.pool) {
    html += `<h4>Pool host</h4><dl>${row('role', badge(st.pool.role, st.pool.role === 'master' ? 'info' : 'plain', 'pool-role'))}`;
    html += rows(st.pool, new Set(['role']));
    html += '</dl>';
  }
  const others = Object.keys(st).filter((k) => !CORE_KEYS.has(k));
  for (const k of others) html += `<h4>${esc(k)}</h4>${typeof st[k] === 'object' && st[k] && !Array.isArray(st[k]) ? `<dl>${rows(st[k], new Set())}</dl>` : show(st[k])}`;
  return `${html}</article>`;
}

function table(headers, body) {
  return `<div class="table-wrap"><table><thead><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${body}</tbody></table></div>`;
}
/** Columns beyond the known ones: every scalar field some record has (new fields show up by themselves). */
function extraColumns(records, shown) {
  const cols = new Set();
  for (const r of records) for (const [k, v] of Object.entries(r)) if (!shown.has(k) && (v === null || typeof v !== 'object')) cols.add(k);
  return [...cols].sort();
}

function poolSection(pool) {
  const rec = pool.records || {};
  const hostRecs = rec.host || {};
  const metrics = rec.host_metrics || {};
  const poolRec = Object.values(rec.pool || {})[0] || {};
  const nameOf = (ref) => (hostRecs[ref] && hostRecs[ref].name_label) || ref;
  let html = `<div class="card"><dl>${row('master', esc(pool.master ? pool.master : 'none'), 'pool-master')}`;
  if (pool.error) html += row('error', esc(pool.error), 'pool-error');
  html += rows(poolRec, new Set(['master', 'uuid']));
  html += '</dl></div><h4>Hosts</h4>';
  const hosts = Object.entries(hostRecs).sort(([, a], [, b]) => String(a.name_label).localeCompare(String(b.name_label)));
  const hostExtra = extraColumns(hosts.map(([, h]) => h), HOST_SHOWN);
  html += table(['host', 'address', 'live', 'enabled', 'master', ...hostExtra], hosts.map(([ref, h]) => {
    const m = metrics[h.metrics] || {};
    const live = m.live === true;
    const isMaster = poolRec.master === ref;
    return `<tr data-host="${esc(h.name_label)}" data-live="${live}" data-master="${isMaster}"><td>${esc(h.name_label)}</td><td>${show(h.address)}</td>`
      + `<td>${live ? badge('live', 'ok') : badge('not live', 'bad')}</td><td>${show(h.enabled)}</td><td>${isMaster ? badge('master', 'info') : ''}</td>`
      + hostExtra.map((k) => `<td>${show(h[k])}</td>`).join('') + '</tr>';
  }).join(''));
  const vms = Object.values(rec.VM || {}).filter((v) => !v.is_control_domain);
  html += '<h4>VMs by host</h4>';
  if (vms.length === 0) return `${html}<p class="muted">No VMs.</p>`;
  const vmExtra = extraColumns(vms, VM_SHOWN);
  const byHost = new Map();
  for (const v of vms) {
    const h = v.resident_on && hostRecs[v.resident_on] ? nameOf(v.resident_on) : '(not running)';
    if (!byHost.has(h)) byHost.set(h, []);
    byHost.get(h).push(v);
  }
  const body = [...byHost.entries()].sort(([a], [b]) => a.localeCompare(b)).flatMap(([h, list]) => list.map((v) =>
    `<tr data-vm="${esc(v.name_label)}"><td>${esc(h)}</td><td>${esc(v.name_label)}</td><td>${show(v.power_state)}</td><td>${show(v.ha_restart_priority)}</td>`
    + vmExtra.map((k) => `<td>${show(v[k])}</td>`).join('') + '</tr>')).join('');
  return html + table(['host', 'VM', 'power', 'restart priority', ...vmExtra], body);
}

function render() {
  if (!overview) return;
  $('self-name').textContent = `· ${overview.server}`;
  document.title = `liveset · ${overview.server}`;
  $('servers').innerHTML = overview.servers.map(serverCard).join('');
  $('pool-section').hidden = !overview.pool;
  if (overview.pool) $('pool').innerHTML = poolSection(overview.pool);
  $('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
}

function renderTimeline() {
  $('timeline').innerHTML = timeline.map((e) => `<li data-event="${esc(e.event)}"><time>${esc(e.time)}</time><span class="ev">${esc(e.event)}</span><span>${esc(e.summary)}</span></li>`).join('')
    || '<li class="muted">Nothing yet: transitions and events appear here as they happen.</li>';
}

function addTimeline(event, summary) {
  timeline.unshift({ time: new Date().toLocaleTimeString(), event, summary });
  timeline = timeline.slice(0, TIMELINE_MAX);
  renderTimeline();
}

function summarize(event, p) {
  if (event === 'ha-state-transition') return `${p['server-name']}: ${p['old-state'] || 'start'} → ${p['new-state']} (partner ${p['partner-state'] || 'unknown'})${p.paused ? ', paused' : ''}`;
  if (event === 'pool-host-live') return `${p.name_label || p.host} is ${p.live ? 'live' : 'not live'}`;
  if (event === 'pool-role') return `${p.host} is ${p.role}; master ${p.master}`;
  return JSON.stringify(p).slice(0, 200);
}

/** A change seen on this server's own socket shows at once, before the next overview arrives. */
function applyEvent(event, p) {
  if (!overview || event !== 'ha-state-transition') return;
  const me = overview.servers.find((s) => s.self);
  const entry = me && me.status && Array.isArray(me.status['high-availability']) ? me.status['high-availability'][0] : null;
  const local = entry && entry['ha-servers'] && entry['ha-servers'].local;
  if (!local || local['server-name'] !== p['server-name']) return;
  local.state = p['new-state'];
  local.paused = p.paused === true;
  local['paused-state'] = p.paused ? p['new-state'] : null;
  if (entry['ha-servers'].remote && p['partner-state']) entry['ha-servers'].remote['last-state'] = p['partner-state'];
  render();
}

async function refresh() {
  if (inFlight) { again = true; return; }
  inFlight = true;
  try {
    const res = await fetch('overview.json', { cache: 'no-store', credentials: 'same-origin' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const next = await res.json();
    noteChanges(overview, next);
    overview = next;
    render();
  } catch (err) {
    $('updated').textContent = `update failed: ${err.message}`;
  } finally {
    inFlight = false;
    if (again) { again = false; void refresh(); }
  }
}

/** Peers' transitions reach this page only through the overview: put what changed on the timeline. */
function noteChanges(before, after) {
  if (!before) {
    lastMaster = after.pool && after.pool.master;
    return;
  }
  for (const s of after.servers) {
    if (s.self) continue;
    const old = before.servers.find((o) => o.name === s.name);
    if (!old) continue;
    if (old.reachable !== s.reachable) addTimeline('server', `${s.name} is ${s.reachable ? 'reachable' : 'unreachable'}`);
    const st = (x) => { const e = x.status && x.status['high-availability']; return e && e[0] && e[0]['ha-servers'].local.state; };
    if (s.reachable && old.reachable && st(old) !== st(s)) addTimeline('peer-state', `${s.name}: ${st(old) || 'unknown'} → ${st(s) || 'unknown'}`);
  }
  // Between two masters a refresh may find none (the change in flight): compare known masters only.
  const master = after.pool && after.pool.master;
  if (master && lastMaster && master !== lastMaster) addTimeline('pool-master', `master ${lastMaster} → ${master}`);
  if (master) lastMaster = master;
}

function connect() {
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
  socket = ws;
  ws.onopen = () => {
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscribe', params: { events: ['*'] } }));
    $('conn').className = 'dot on';
    $('conn-text').textContent = 'live';
  };
  ws.onmessage = (m) => {
    let msg;
    try { msg = JSON.parse(m.data); } catch { return; }
    if (!msg.method) return;
    addTimeline(msg.method, summarize(msg.method, msg.params || {}));
    applyEvent(msg.method, msg.params || {});
    void refresh();
  };
  ws.onclose = () => {
    if (socket !== ws) return;
    $('conn').className = 'dot off';
    $('conn-text').textContent = 'reconnecting…';
    setTimeout(connect, 1000);
  };
}

function toast(text) {
  const t = $('toast');
  t.textContent = text;
  t.className = 'show';
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.className = ''; }, 4000);
}

document.addEventListener('click', async (e) => {
  const btn = e.target.closest('button[data-cmd]');
  if (!btn) return;
  const { cmd, server } = btn.dataset;
  btn.disabled = true;
  try {
    const res = await fetch('command', { method: 'POST', headers: { 'Content-Type': 'application/json' }, credentials: 'same-origin', body: JSON.stringify({ server, command: cmd }) });
    const a = await res.json();
    const text = a.error && !a.text ? a.error : a.text || (a.result === 0 ? 'done' : `result ${a.result}`);
    toast(`${server}: ${cmd}: ${text}`);
    addTimeline('command', `${cmd} on ${server}: ${text}`);
  } catch (err) {
    toast(`${cmd} failed: ${err.message}`);
  } finally {
    btn.disabled = false;
    void refresh();
  }
});

renderTimeline();
connect();
void refresh();
setInterval(refresh, REFRESH_MS);
