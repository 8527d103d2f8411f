import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rpc, waitFor } from '../helpers/liveset.ts';
import { TIMERS, allLive, kea, errorOf, liveness, startPool, type PoolCluster } from './pool-helpers.ts';

const fileStarted = Date.now();

// One pool for the file: the tests run in order and each leaves it as the next expects.
let cluster: PoolCluster;
before(async () => {
  cluster = await startPool({ faults: true });
});
after(async () => {
  await cluster?.stopAll();
});

test('slaves heartbeat the master and every host shows live', async () => {
  await allLive(cluster);
  const hosts = (await kea(cluster.url('host1'), 'host.get_all_records')).arguments as Record<string, { address: string }>;
  assert.equal(Object.keys(hosts).length, 3);
  const metrics = (await kea(cluster.url('host1'), 'host_metrics.get_all_records')).arguments as Record<string, { last_updated: string }>;
  // Heartbeats are soft state: last_updated is when the host came live, during this file's run.
  for (const m of Object.values(metrics)) assert.ok(Date.parse(m.last_updated) >= fileStarted - 1000 && Date.parse(m.last_updated) <= Date.now(), 'came live during this run');
});

test('a slave answers master-only calls with HOST_IS_SLAVE [master address]', async () => {
  const a = await kea(cluster.url('host2'), 'pool.get_all_records');
  assert.equal(a.result, 1);
  assert.deepEqual(errorOf(a), { error: 'HOST_IS_SLAVE', params: [new URL(cluster.url('host1')).host] });
  const login = await rpc(`${cluster.url('host3')}jsonrpc`, 'session.login_with_password', ['root', 'secret']);
  assert.equal(login.error?.message, 'HOST_IS_SLAVE');
  assert.deepEqual(login.error?.data, [new URL(cluster.url('host1')).host]);
});

test('a heartbeat naming a host outside the pool is refused', async () => {
  const a = await cluster.asPeer('host1', 'host.tickle_heartbeat', { host: 'OpaqueRef:stranger', stuff: {} });
  assert.deepEqual(errorOf(a), { error: 'HANDLE_INVALID', params: ['host', 'OpaqueRef:stranger'] });
});

test('a host that hangs but is not yet marked dead gives CANNOT_CONTACT_HOST within the forward timeout', async () => {
  const refs = await cluster.refs('host1');
  // host2 hangs on the next call executed there (test fault point); its heartbeats keep it live.
  assert.equal((await kea(cluster.url('host2'), 'host.set_fault_point', { point: 'host-execute', delay: 2000 })).result, 0);
  const started = Date.now();
  const a = await kea(cluster.url('host1'), 'host.get_servertime', { host: refs['host2'] });
  const took = Date.now() - started;
  assert.deepEqual(errorOf(a), { error: 'CANNOT_CONTACT_HOST', params: [refs['host2']] });
  assert.ok(took >= TIMERS['forward-timeout'] - 50, `gave up after ${took} ms, before the bound`);
  assert.ok(took < TIMERS['forward-timeout'] + 1500, `took ${took} ms, bound is ${TIMERS['forward-timeout']} ms`);
  assert.equal((await liveness(cluster, 'host1'))['host2'], true, 'host2 is still believed live');
  await waitFor(async () => (await cluster.status('host2'))?.['fault_waiting'] === undefined, { timeoutMs: 10_000 });
  const ok = await kea(cluster.url('host1'), 'host.get_servertime', { host: refs['host2'] });
  assert.equal(ok.result, 0);
});

test('kill -9 a slave: CANNOT_CONTACT_HOST at once, not live after the assumed-dead interval, then HOST_OFFLINE', async () => {
  const refs = await cluster.refs('host1');
  const vm = (await kea(cluster.url('host1'), 'VM.create', { args: { name_label: 'web', memory_static_max: 1024 } })).arguments as string;
  await cluster.hosts.get('host3')?.kill();
  const early = await kea(cluster.url('host1'), 'VM.start_on', { vm, host: refs['host3'] });
  assert.deepEqual(errorOf(early), { error: 'CANNOT_CONTACT_HOST', params: [refs['host3']] });
  await waitFor(async () => (await liveness(cluster, 'host1'))['host3'] === false, { timeoutMs: 10_000 });
  // Declared dead no sooner than the interval after the last heartbeat the master received.
  const hosts = (await kea(cluster.url('host1'), 'host.get_all_records')).arguments as Record<string, { metrics: string }>;
  const metrics = (await kea(cluster.url('host1'), 'host_metrics.get_record', { self: hosts[refs['host3'] as string]?.metrics })).arguments as { last_updated: string };
  assert.ok(Date.now() - Date.parse(metrics.last_updated) >= TIMERS['assumed-dead-interval'] - 50, 'not declared dead before the interval');
  const late = await kea(cluster.url('host1'), 'VM.start_on', { vm, host: refs['host3'] });
  assert.deepEqual(errorOf(late), { error: 'HOST_OFFLINE', params: [refs['host3']] });
  const record = (await kea(cluster.url('host1'), 'VM.get_record', { self: vm })).arguments as { power_state: string };
  assert.equal(record.power_state, 'Halted', 'a failed forward changes nothing');
  // the host comes back and is live again on its first heartbeat
  await cluster.hosts.get('host3')?.restart();
  await allLive(cluster);
  assert.equal((await kea(cluster.url('host1'), 'VM.start_on', { vm, host: refs['host3'] })).result, 0);
});

test('the master restarted after kill -9 has every acknowledged record', async () => {
  const made: string[] = [];
  const writes = Array.from({ length: 30 }, (_, i) => kea(cluster.url('host1'), 'VM.create', { args: { name_label: `vm-${i}`, memory_static_max: 1 } })
    .then((a) => {
      if (a.result === 0) made.push(a.arguments as string);
    }));
  await Promise.all(writes);
  assert.equal(made.length, 30);
  await cluster.hosts.get('host1')?.kill();
  await cluster.hosts.get('host1')?.restart();
  const all = (await kea(cluster.url('host1'), 'VM.get_all')).arguments as string[];
  for (const ref of made) assert.ok(all.includes(ref), `${ref} survived`);
  await allLive(cluster);
});

test('JSON-RPC callers need a session; calls take positional or named params', async () => {
  const url = cluster.url('host1');
  const noSession = await rpc(url, 'VM.get_all', []);
  assert.equal(noSession.error?.message, 'SESSION_INVALID');
  const session = (await rpc(url, 'session.login_with_password', { uname: 'root', pwd: 'secret' })).result as string;
  assert.match(session, /^OpaqueRef:/);
  const positional = await rpc(url, 'pool.get_all_records', [session]);
  const named = await rpc(url, 'pool.get_all_records', { session_id: session });
  assert.deepEqual(named.result, positional.result);
  const bad = await rpc(url, 'VM.get_record', { session_id: session, self: 'OpaqueRef:none' });
  assert.deepEqual(bad.error, { code: 1, message: 'HANDLE_INVALID', data: ['VM', 'OpaqueRef:none'] });
  assert.equal((await rpc(url, 'session.logout', [session])).result, '');
  assert.equal((await rpc(url, 'VM.get_all', [session])).error?.message, 'SESSION_INVALID');
});

test('a slave that stops cleanly tells the master, which marks it not live at once', async () => {
  await allLive(cluster);
  await cluster.hosts.get('host3')?.stop();
  assert.equal((await liveness(cluster, 'host1'))['host3'], false);
  await cluster.hosts.get('host3')?.restart();
  await allLive(cluster);
});
