// Pool HA on two real processes sharing a statefile directory: the semi-deterministic two-host
// rule made visible and obeyed on a split, the statefile lost on every host (survival rule 2,
// nobody fences; HA disabled without it, then enabled again) and on one host only (it fences), the
// watchdog fencing a frozen host, fence-loop protection, and a lone survivor fencing when it loses
// the statefile while the other host is out of its liveset but not excluded. A watcher polls both hosts throughout: never two masters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../helpers/liveset.ts';
import { errorOf, kea, watchMasters } from './pool-helpers.ts';
import { actingMasters, enableHa, haStatus, startHaPool, T_SECONDS, exitCode } from './pool-ha-helpers.ts';

const T_MS = T_SECONDS * 1000;

test('pool HA with two hosts: split, statefile losses, watchdog, fence loop', { timeout: 420_000 }, async (t) => {
  // Fence-loop protection after 3 fences within 10 minutes.
  const pool = await startHaPool(2, { extra: { 'ha-fence-loop': { count: 3, window: 600_000 } } });
  t.after(() => pool.stopAll());
  const refs = await pool.refs('host1');
  const h1 = pool.hosts.get('host1')!;
  const h2 = pool.hosts.get('host2')!;

  // ---- HOST_OFFLINE: every host must be live to enable ----
  await h2.kill();
  await waitFor(async () => {
    const e = errorOf(await kea(pool.url('host1'), 'pool.enable_ha', { heartbeat_srs: [pool.srRef], configuration: { timeout: '4' } }));
    return e.error === 'HOST_OFFLINE' && e.params?.[0] === refs['host2'];
  }, { timeoutMs: 20_000, what: 'HOST_OFFLINE [host2] while host2 is down' });
  await h2.restart();
  await waitFor(async () => (await kea(pool.url('host1'), 'pool.enable_ha', { heartbeat_srs: [pool.srRef], configuration: { timeout: '4' } })).result === 0,
    { timeoutMs: 30_000, intervalMs: 500, what: 'enable once host2 is live again' });
  const watch = watchMasters(pool, t);

  // ---- status names the host that would survive a split: the lower host UUID (host2 here) ----
  const split = (await haStatus(pool, 'host1'))?.['split_survivor'] as { host: string; reason: string };
  assert.equal(split.host, 'host2');
  assert.match(split.reason, /tie goes to the lower host UUID/);
  assert.deepEqual(await actingMasters(pool), ['host1']);

  // ---- statefile lost on every host, network fine: nobody fences, HA_STATEFILE_LOST ----
  for (const n of pool.names) assert.equal((await kea(pool.url(n), 'host.ha_fault', { fault: 'medium-cut' })).result, 0);
  await waitFor(async () => (await haStatus(pool, 'host1'))?.['statefile_lost'] === true && (await haStatus(pool, 'host2'))?.['statefile_lost'] === true,
    { timeoutMs: T_MS * 2, what: 'both hosts on survival rule 2' });
  // A write the HA redo log cannot take is refused, not acknowledged and lost.
  assert.equal(errorOf(await kea(pool.url('host1'), 'VM.create', { args: { name_label: 'no-redo', memory_static_max: 1024 } })).error, 'HA_REDO_LOG_UNAVAILABLE');
  await new Promise((r) => setTimeout(r, 2 * T_MS));
  assert.equal(h1.pid !== undefined && (await pool.status('host1')) !== undefined, true, 'host1 still runs');
  assert.ok(await pool.status('host2'), 'host2 still runs');
  assert.match(h1.logs(), /"msgId":"HA_STATEFILE_LOST"/);

  // ---- disable without the statefile: nobody reaches it, so the master disables the other way
  // (failover decisions off, disarm, stop) and both hosts are released; then enable again ----
  assert.equal((await kea(pool.url('host1'), 'pool.disable_ha')).result, 0);
  assert.match(h1.logs(), /"msgId":"POOL_HA_DISABLE_PATH","path":"no-statefile"/);
  for (const n of pool.names) await waitFor(async () => (await haStatus(pool, n))?.['armed'] === false, { timeoutMs: 20_000, what: `${n} disarmed` });
  for (const n of pool.names) await kea(pool.url(n), 'host.ha_fault', { fault: 'medium-heal' }).catch(() => undefined);
  await waitFor(async () => (await kea(pool.url('host1'), 'pool.enable_ha', { heartbeat_srs: [pool.srRef], configuration: { timeout: '4' } })).result === 0,
    { timeoutMs: 30_000, intervalMs: 500, what: 'enable again' });
  await waitFor(async () => (await haStatus(pool, 'host1'))?.['statefile_lost'] === false && (await haStatus(pool, 'host1'))?.['i_am_master'] === true &&
    ((await haStatus(pool, 'host2'))?.['liveset'] as string[] | undefined)?.length === 2,
  { timeoutMs: T_MS * 2, what: 'HA enabled again with the statefile back' });
  assert.equal((await kea(pool.url('host1'), 'VM.create', { args: { name_label: 'redo-back', memory_static_max: 1024 } })).result, 0);

  // ---- the watchdog fences a host whose loops are frozen (the master here); host2 takes over ----
  assert.equal((await kea(pool.url('host1'), 'host.ha_fault', { fault: 'freeze' })).result, 0);
  assert.equal(await exitCode(h1, 3 * T_MS), 75);
  assert.match(h1.logs(), /"msgId":"POOL_HA_FENCED".*watchdog/);
  await waitFor(async () => (await actingMasters(pool, ['host2'])).length === 1, { timeoutMs: 3 * T_MS, what: 'host2 master' });
  await h1.restart();
  const rejoined = () => waitFor(async () => ((await haStatus(pool, 'host2'))?.['liveset'] as string[] | undefined)?.length === 2 && (await haStatus(pool, 'host1'))?.['state'] === 'online',
    { timeoutMs: 30_000, what: 'host1 rejoined' });
  await rejoined();

  // ---- statefile lost on one host only (host1): that host fences ----
  assert.equal((await kea(pool.url('host1'), 'host.ha_fault', { fault: 'medium-cut' })).result, 0);
  assert.equal(await exitCode(h1, 3 * T_MS), 75);
  assert.match(h1.logs(), /"msgId":"POOL_HA_FENCED"/);
  assert.deepEqual(await actingMasters(pool, ['host2']), ['host2']);
  await h1.restart();
  await rejoined();

  // ---- a two-host split: exactly the host the rules name (host2, lower UUID) survives ----
  await kea(pool.url('host1'), 'fault-partition', { peers: ['host2'] });
  await kea(pool.url('host2'), 'fault-partition', { peers: ['host1'] });
  assert.equal(await exitCode(h1, 3 * T_MS), 75);
  assert.match(h1.logs(), /ties with .* lower host UUID/);
  await new Promise((r) => setTimeout(r, T_MS));
  assert.ok(await pool.status('host2'), 'host2 survives the split');
  assert.deepEqual(await actingMasters(pool, ['host2']), ['host2']);
  await kea(pool.url('host2'), 'fault-heal', {});

  // ---- third fence within the window: host1 comes up with HA disarmed locally and says so ----
  await h1.restart();
  await waitFor(async () => typeof (await haStatus(pool, 'host1'))?.['fence_loop'] === 'string', { timeoutMs: 10_000, what: 'fence loop reported' });
  assert.match(h1.logs(), /"msgId":"POOL_HA_FENCE_LOOP"/);
  await new Promise((r) => setTimeout(r, T_MS));
  assert.deepEqual((await haStatus(pool, 'host2'))?.['liveset'], ['host2'], 'host1 did not rejoin');

  // ---- host2, alone in the liveset, loses the statefile: host1 is outside it and not excluded (it
  // fenced; a clean shutdown would have excluded it), so survival rule 2 does not hold — host1
  // could reach the statefile — and host2 fences (xha's test_Survival_Rule; sim pool-ha seed 520) ----
  assert.equal((await kea(pool.url('host2'), 'host.ha_fault', { fault: 'medium-cut' })).result, 0);
  assert.equal(await exitCode(h2, 3 * T_MS), 75);
  assert.match(h2.logs(), /"msgId":"POOL_HA_FENCED".*outside the liveset and not excluded/);
  assert.deepEqual(await watch.stop(), [], 'never two masters');
});
