// /metrics on real processes, parsed as Prometheus text, with values checked against what the test did.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { keaCommand, rpc, waitFor } from '../helpers/liveset.ts';
import { sampleValue as value } from '../helpers/prometheus-text.ts';
import { AUTH_HEADER, asOperator, haLocal, scrape, startPair, untilLoadBalancing } from './operator-support.ts';
import { allLive, kea, startPool } from './pool-helpers.ts';

test('pair: commands, latency per wire format, HA state and pause, heartbeats, partner-down, WebSockets', { timeout: 300_000 }, async (t) => {
  const pair = await startPair();
  t.after(() => pair.stopAll());
  const s1 = pair.server('server1');
  await untilLoadBalancing(pair);

  // Same authentication as the API: nothing without credentials, the page included.
  for (const path of ['/metrics', '/ui/', '/ui/overview.json']) {
    const res = await fetch(new URL(path, s1.url));
    await res.arrayBuffer();
    assert.equal(res.status, 401, path);
    assert.match(res.headers.get('www-authenticate') ?? '', /^Basic realm=/);
  }

  for (let i = 0; i < 3; i++) assert.equal((await asOperator(s1.url, 'version-get')).result, 0);
  const jsonrpc = (method: string) => fetch(new URL('/jsonrpc', s1.url), {
    method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: AUTH_HEADER },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method }),
  }).then((r) => r.json() as Promise<Record<string, unknown>>);
  for (let i = 0; i < 2; i++) assert.ok('result' in (await jsonrpc('version-get')));
  assert.equal((await asOperator(s1.url, 'no-such-command')).result, 2);
  assert.equal((await asOperator(s1.url, 'no-such-either')).result, 2);

  const open = () => new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(new URL('/ws', s1.url).href.replace(/^http/, 'ws'), { headers: { Authorization: AUTH_HEADER } });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
  const sockets = [await open(), await open()];
  t.after(() => sockets.forEach((ws) => ws.terminate()));
  const subscribed = new Promise((resolve) => sockets[0]?.once('message', resolve));
  sockets[0]?.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscribe', params: { events: ['ha-*'] } }));
  await subscribed;

  let m = await scrape(s1.url);
  assert.equal(value(m, 'liveset_commands_total', { command: 'version-get', transport: 'kea-http', result: '0' }), 3);
  assert.equal(value(m, 'liveset_commands_total', { command: 'version-get', transport: 'jsonrpc-http', result: '0' }), 2);
  assert.equal(value(m, 'liveset_commands_total', { command: 'unknown', transport: 'kea-http', result: '2' }), 2, 'unknown names share one label');
  assert.equal(value(m, 'liveset_commands_total', { command: 'subscribe', transport: 'jsonrpc-ws', result: '0' }), 1);
  const continued = value(m, 'liveset_commands_total', { command: 'ha-continue', transport: 'kea-http', result: '0' }) ?? 0;
  assert.equal(value(m, 'liveset_command_duration_seconds_count', { transport: 'jsonrpc-http' }), 2);
  assert.equal(value(m, 'liveset_command_duration_seconds_count', { transport: 'jsonrpc-ws' }), 1);
  assert.equal(value(m, 'liveset_command_duration_seconds_bucket', { transport: 'jsonrpc-http', le: '+Inf' }), 2);
  assert.equal(m.get('liveset_command_duration_seconds')?.type, 'histogram');
  assert.equal(value(m, 'liveset_ha_state', { state: 'load-balancing' }), 1);
  assert.equal(value(m, 'liveset_ha_state', { state: 'partner-down' }), 0);
  assert.equal(value(m, 'liveset_ha_paused'), 0);
  assert.ok((value(m, 'liveset_heartbeats_total', { peer: 'server2', command: 'ha-heartbeat', outcome: 'ok' }) ?? 0) > 0, 'heartbeats answered');
  assert.ok((value(m, 'liveset_heartbeat_rtt_seconds_count', { peer: 'server2' }) ?? 0) > 0, 'heartbeat round trips timed');
  // A start before the partner may already have passed through partner-down once.
  const downBefore = value(m, 'liveset_ha_partner_down_transitions_total') ?? -1;
  assert.equal(value(m, 'liveset_ha_transitions_total', { to: 'partner-down' }) ?? 0, downBefore);
  assert.equal(value(m, 'liveset_websocket_connections'), 2);
  assert.equal(value(m, 'liveset_event_subscriptions'), 1);

  // kill -9 of the partner: one transition into partner-down, where this configuration pauses.
  await pair.server('server2').kill();
  await waitFor(async () => (await haLocal(s1.url)).state === 'partner-down', { timeoutMs: 60_000, what: 'partner-down' });
  m = await scrape(s1.url);
  assert.equal(value(m, 'liveset_ha_partner_down_transitions_total'), downBefore + 1);
  assert.equal(value(m, 'liveset_ha_transitions_total', { to: 'partner-down' }), downBefore + 1);
  assert.equal(value(m, 'liveset_ha_state', { state: 'partner-down' }), 1);
  assert.equal(value(m, 'liveset_ha_state', { state: 'load-balancing' }), 0);
  assert.equal(value(m, 'liveset_ha_paused'), 1);
  assert.ok((value(m, 'liveset_heartbeats_total', { peer: 'server2', outcome: 'failed' }) ?? 0) > 0, 'failed heartbeats counted');

  assert.equal((await asOperator(s1.url, 'ha-continue')).result, 0);
  m = await scrape(s1.url);
  assert.equal(value(m, 'liveset_ha_paused'), 0);
  assert.equal(value(m, 'liveset_commands_total', { command: 'ha-continue', transport: 'kea-http', result: '0' }), continued + 1);

  sockets.forEach((ws) => ws.close());
  await waitFor(async () => value(await scrape(s1.url), 'liveset_websocket_connections') === 0, { what: 'sockets closed' });
  assert.equal(value(await scrape(s1.url), 'liveset_event_subscriptions'), 0);
});

test('pair: metrics-unauthenticated-loopback opens /metrics, and only /metrics, to a scraper on 127.0.0.1', { timeout: 300_000 }, async (t) => {
  const pair = await startPair({ metricsOpenOnLoopback: true });
  t.after(() => pair.stopAll());
  const url = pair.server('server1').url;
  const m = await scrape(url, { anonymous: true });
  assert.equal(m.get('liveset_ha_state')?.type, 'gauge');
  for (const path of ['/ui/', '/ui/overview.json']) {
    const res = await fetch(new URL(path, url));
    await res.arrayBuffer();
    assert.equal(res.status, 401, path);
  }
  assert.equal((await keaCommand(url, 'status-get').catch(() => ({ result: 401 }))).result, 401);
  assert.equal((await rpc(url, 'status-get').catch(() => ({ result: 401 }))).result, 401);

  // rpc.discover: the OpenRPC document of what this server has loaded (the core and ha, no pool).
  const res = await fetch(new URL('/jsonrpc', url), {
    method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: AUTH_HEADER },
    body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'rpc.discover' }),
  });
  const doc = ((await res.json()) as { result: { openrpc: string; methods: { name: string; tags: { name: string }[] }[] } }).result;
  assert.match(doc.openrpc, /^1\./);
  const names = doc.methods.map((x) => x.name);
  assert.ok(names.includes('rpc.discover') && names.includes('status-get') && names.includes('ha-continue'));
  assert.ok(!names.some((n) => n.startsWith('pool.')), 'only loaded libraries');
  assert.deepEqual(doc.methods.find((x) => x.name === 'ha-continue')?.tags, [{ name: 'ha' }]);
});

test('pool: liveness per host, master changes, redo-log fsync latency and group size', { timeout: 300_000 }, async (t) => {
  const pool = await startPool();
  t.after(() => pool.stopAll());
  await allLive(pool);
  const refs = await pool.refs('host1');
  for (let i = 0; i < 3; i++) assert.equal((await kea(pool.url('host1'), 'VM.create', { args: { name_label: `vm${i}`, memory_static_max: 1 } })).result, 0);

  let m = await scrape(pool.url('host1'));
  for (const h of pool.names) assert.equal(value(m, 'liveset_pool_host_live', { host: h }), 1, h);
  assert.equal(value(m, 'liveset_pool_is_master'), 1);
  assert.equal(value(m, 'liveset_pool_master_changes_total'), 0);
  const syncs = value(m, 'liveset_redo_log_fsync_seconds_count', { store: 'pool-db' }) ?? 0;
  const grouped = value(m, 'liveset_redo_log_group_size_sum', { store: 'pool-db' }) ?? 0;
  assert.ok(syncs >= 3, `one sync at least per VM.create (saw ${syncs})`);
  assert.ok(grouped >= syncs, `every sync makes at least one record durable (${grouped} records, ${syncs} syncs)`);
  assert.equal(value(m, 'liveset_redo_log_group_size_count', { store: 'pool-db' }), syncs);
  assert.equal(value(await scrape(pool.url('host2')), 'liveset_pool_host_live', { host: 'host1' }), undefined, 'only the master reports liveness');

  assert.equal((await keaCommand(pool.url('host1'), 'pool.designate_new_master', { host: refs['host2'] }, { errorDetail: true, timeoutMs: 60_000 })).result, 0);
  for (const h of pool.names) {
    await waitFor(async () => value(await scrape(pool.url(h)), 'liveset_pool_master_changes_total') === 1, { timeoutMs: 60_000, what: `${h} to count one master change` });
  }
  m = await scrape(pool.url('host2'));
  assert.equal(value(m, 'liveset_pool_is_master'), 1);

  await pool.hosts.get('host3')?.kill();
  await waitFor(async () => value(await scrape(pool.url('host2')), 'liveset_pool_host_live', { host: 'host3' }) === 0, { timeoutMs: 60_000, what: 'host3 not live on the new master' });
  m = await scrape(pool.url('host2'));
  assert.equal(value(m, 'liveset_pool_host_live', { host: 'host1' }), 1);
});
