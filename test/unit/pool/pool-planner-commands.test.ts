import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isLive, poolEntry } from '../../../src/hook-libs/pool/model/database.ts';
import type { Ref } from '../../../src/hook-libs/pool/model/records.ts';
import { poolParams, SimPool, until } from './sim-pool.ts';

/**
 * The planner's calls, admission control, host.disable/enable/evacuate and the restart pass, on
 * three real pool service shells in one process (memory stores, peers wired together).
 */

const GiB = 1024 ** 3;

async function pool(t: { after: (fn: () => Promise<void>) => void }, ha = true): Promise<{ sim: SimPool; hosts: Ref[] }> {
  const params = poolParams();
  (params['hosts'] as Record<string, unknown>[]).forEach((h, i) => { h['memory'] = (i === 0 ? 8 : 4) * GiB; });
  const sim = new SimPool(params);
  t.after(() => sim.stopAll());
  for (const n of sim.names) await sim.start(n);
  const master = sim.services.get('host1');
  assert.ok(master);
  await until(() => Object.keys(master.db.tables.host).every((h) => isLive(master.db, h)), 5000);
  const hosts = (await sim.ok('host1', 'host.get_all')) as Ref[];
  if (ha) await master.transact((db) => [{ op: 'mod', class: 'pool', ref: poolEntry(db)[0], fields: { ha_enabled: true } }]);
  return { sim, hosts: hosts.sort((a, b) => (nameOf(sim, a) < nameOf(sim, b) ? -1 : 1)) };
}

function nameOf(sim: SimPool, ref: Ref): string {
  return sim.services.get('host1')?.db.tables.host[ref]?.name_label ?? ref;
}

async function newVm(sim: SimPool, gib: number, priority: string, order = 0): Promise<Ref> {
  return (await sim.ok('host1', 'VM.create', { args: { name_label: `vm-${gib}-${priority}`, memory_static_max: gib * GiB, ha_restart_priority: priority, order } })) as Ref;
}

const poolRecord = (sim: SimPool) => poolEntry(sim.services.get('host1')!.db);

test('planner calls: max failures, plan exists, hypothetical, failover plan, the pool fields', { timeout: 30_000 }, async (t) => {
  const { sim, hosts } = await pool(t);
  const [h1, h2, h3] = hosts as [Ref, Ref, Ref];
  const a = await newVm(sim, 3, 'restart');
  const b = await newVm(sim, 3, 'restart');
  await sim.ok('host1', 'VM.start_on', { vm: a, host: h2 });
  await sim.ok('host1', 'VM.start_on', { vm: b, host: h3 });
  const max = await sim.call('host1', 'pool.ha_compute_max_host_failures_to_tolerate');
  assert.equal(max.arguments, 1);
  assert.match(max.text ?? '', /exhaustive heuristic/);
  assert.equal(await sim.ok('host1', 'pool.ha_failover_plan_exists', { n: 1 }), true);
  assert.equal(await sim.ok('host1', 'pool.ha_failover_plan_exists', { n: 2 }), false);
  assert.equal(await sim.ok('host1', 'pool.ha_compute_hypothetical_max_host_failures_to_tolerate', { configuration: { [a]: 'best-effort', [b]: '' } }), 3);
  const bad = await sim.call('host1', 'pool.ha_compute_hypothetical_max_host_failures_to_tolerate', { configuration: { [a]: 'always' } });
  assert.equal(bad.error, 'INVALID_VALUE');
  assert.deepEqual(bad.params, ['ha_restart_priority', 'always']);
  assert.deepEqual(await sim.ok('host1', 'pool.ha_compute_vm_failover_plan', { failed_hosts: [h2], failed_vms: [a] }), { [a]: { host: h1 } });

  const [poolRef] = poolRecord(sim);
  const neg = await sim.call('host1', 'pool.set_ha_host_failures_to_tolerate', { self: poolRef, value: -1 });
  assert.deepEqual([neg.error, neg.params], ['INVALID_VALUE', ['ha_host_failures_to_tolerate', '-1']]);
  await sim.ok('host1', 'pool.set_ha_host_failures_to_tolerate', { self: poolRef, value: 1 });
  assert.deepEqual(pick(poolRecord(sim)[1]), { ha_host_failures_to_tolerate: 1, ha_plan_exists_for: 1, ha_overcommitted: false });
  // A plan exists for 1: raising the target to 2 would leave none → refused, nothing changes.
  const refused = await sim.call('host1', 'pool.set_ha_host_failures_to_tolerate', { self: poolRef, value: 2 });
  assert.equal(refused.error, 'HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN');
  assert.equal(poolRecord(sim)[1].ha_host_failures_to_tolerate, 1);
  // With overcommit allowed it goes through, and the pool says it is overcommitted, with an alert.
  await sim.ok('host1', 'pool.set_ha_allow_overcommit', { self: poolRef, value: true });
  await sim.ok('host1', 'pool.set_ha_host_failures_to_tolerate', { self: poolRef, value: 2 });
  assert.deepEqual(pick(poolRecord(sim)[1]), { ha_host_failures_to_tolerate: 2, ha_plan_exists_for: 1, ha_overcommitted: true });
  assert.ok(sim.published.some((p) => p.event === 'pool-ha-overcommitted'));
  const status = (await sim.ok('host1', 'host.local_status')) as { planner: { last_plan: { heuristic: string; status: string } } };
  assert.deepEqual(status.planner.last_plan.status, 'No_plan_exists');
  assert.equal(status.planner.last_plan.heuristic, 'exhaustive');
});

function pick(p: import("../../../src/hook-libs/pool/model/records.ts").PoolRecord) {
  return { ha_host_failures_to_tolerate: p.ha_host_failures_to_tolerate, ha_plan_exists_for: p.ha_plan_exists_for, ha_overcommitted: p.ha_overcommitted };
}

test('admission control refuses the VM.start that breaks the plan; overcommit allowed lets it through', { timeout: 30_000 }, async (t) => {
  const { sim, hosts } = await pool(t);
  const [h1, h2, h3] = hosts as [Ref, Ref, Ref];
  const p = await newVm(sim, 3, 'restart');
  await sim.ok('host1', 'VM.start_on', { vm: p, host: h2 });
  await sim.ok('host1', 'VM.start_on', { vm: await newVm(sim, 2, ''), host: h3 });
  const [poolRef] = poolRecord(sim);
  await sim.ok('host1', 'pool.set_ha_host_failures_to_tolerate', { self: poolRef, value: 1 });
  const big = await newVm(sim, 6, '');
  const refused = await sim.call('host1', 'VM.start_on', { vm: big, host: h1 });
  assert.equal(refused.error, 'HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN');
  assert.equal(sim.services.get('host1')?.db.tables.VM[big]?.power_state, 'Halted');
  // VM.start picks host1 (most free memory): the same refusal.
  assert.equal((await sim.call('host1', 'VM.start', { vm: big })).error, 'HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN');
  // Disabling host1 or evacuating it would break the plan too.
  assert.equal((await sim.call('host1', 'host.disable', { host: h1 })).error, 'HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN');
  await sim.ok('host1', 'pool.set_ha_allow_overcommit', { self: poolRef, value: true });
  await sim.ok('host1', 'VM.start_on', { vm: big, host: h1 });
  assert.equal(sim.services.get('host1')?.db.tables.VM[big]?.power_state, 'Running');
  assert.equal(poolRecord(sim)[1].ha_overcommitted, true);
});

test('host.disable, host.enable and host.evacuate', { timeout: 30_000 }, async (t) => {
  const { sim, hosts } = await pool(t);
  const [h1, h2, h3] = hosts as [Ref, Ref, Ref];
  const p = await newVm(sim, 2, 'restart');
  const u = await newVm(sim, 1, '');
  await sim.ok('host1', 'VM.start_on', { vm: p, host: h2 });
  await sim.ok('host1', 'VM.start_on', { vm: u, host: h2 });
  await sim.ok('host1', 'host.disable', { host: h2 });
  const db = () => sim.services.get('host1')!.db;
  assert.equal(db().tables.host[h2]?.enabled, false);
  await sim.ok('host1', 'host.evacuate', { host: h2 });
  assert.deepEqual(db().tables.host[h2]?.resident_VMs, []);
  assert.equal(db().tables.VM[p]?.resident_on, h1, 'biggest first onto the host with the most free memory');
  assert.equal(db().tables.VM[u]?.resident_on, h1);
  await sim.ok('host1', 'host.enable', { host: h2 });
  assert.equal(db().tables.host[h2]?.enabled, true);
  // Nowhere to go: under HA an unprotected VM says so; nothing moves.
  const huge = await newVm(sim, 4, '');
  await sim.ok('host1', 'VM.start_on', { vm: huge, host: h3 });
  await sim.ok('host1', 'VM.start_on', { vm: await newVm(sim, 4, ''), host: h2 });
  await sim.ok('host1', 'VM.start_on', { vm: await newVm(sim, 4, ''), host: h1 });
  const e = await sim.call('host1', 'host.evacuate', { host: h3 });
  assert.deepEqual([e.error, e.params], ['HOST_EVACUATE_VM_NOT_HA_PROTECTED', [huge]]);
  assert.equal(db().tables.VM[huge]?.resident_on, h3);
});

test('restart pass: protected VMs in order groups, then best-effort; unprotected stay halted; a callout can refuse', { timeout: 30_000 }, async (t) => {
  const { sim, hosts } = await pool(t);
  const [h1, h2, h3] = hosts as [Ref, Ref, Ref];
  const first = await newVm(sim, 1, 'restart', 1);
  const second = await newVm(sim, 1, 'restart', 2);
  const refusedVm = await newVm(sim, 1, 'restart', 2);
  const be = await newVm(sim, 0.5, 'best-effort');
  const none = await newVm(sim, 0.25, '');
  for (const v of [first, second, refusedVm, be, none]) await sim.ok('host1', 'VM.start_on', { vm: v, host: h3 });
  const seen: { vm: unknown; host: unknown; why: unknown }[] = [];
  sim.callouts.set('ha_vm_restart', (a) => {
    seen.push({ vm: a['vm'], host: a['host'], why: a['why'] });
    return a['vm'] === refusedVm ? 'skip' : 'continue';
  });
  const svc = sim.services.get('host1')!;
  sim.kill('host3');
  const report = await svc.restarts.pass(new Set([h1, h2]));
  assert.deepEqual(report.failedHosts, [h3]);
  assert.deepEqual(report.failed, [refusedVm]);
  assert.deepEqual(report.restarted.map((r) => r.vm).sort(), [first, second].sort());
  assert.deepEqual(report.bestEffort.map((r) => r.vm), [be], 'the newly reset best-effort VM is tried after the protected ones');
  const order = seen.filter((s) => s.why === 'restart').map((s) => s.vm);
  assert.equal(order[0], first, 'order group 1 before group 2');
  assert.ok(seen.some((s) => s.vm === refusedVm && s.why === 'final attempt'), 'one final attempt');
  for (const v of [first, second]) assert.equal(svc.db.tables.VM[v]?.power_state, 'Running');
  assert.equal(svc.db.tables.VM[none]?.power_state, 'Halted');
  assert.equal(svc.db.tables.VM[refusedVm]?.power_state, 'Halted');
  assert.equal(svc.db.tables.host_metrics[svc.db.tables.host[h3]!.metrics]?.live, false);
  assert.ok(sim.published.some((p) => p.event === 'pool-ha-protected-vm-restart-failed'));
  assert.ok(sim.published.some((p) => p.event === 'pool-ha-host-failed'));

  // The callout gives in, but the VM was attempted less than 120 s ago: skipped, still failed, reported once.
  sim.callouts.set('ha_vm_restart', () => 'continue');
  const alerts = sim.published.filter((p) => p.event === 'pool-ha-protected-vm-restart-failed').length;
  const again = await svc.restarts.pass(new Set([h1, h2]));
  assert.deepEqual(again.restarted.map((r) => r.vm), [refusedVm], 'the final attempt ignores the window');
  assert.deepEqual(again.failed, []);
  assert.equal(sim.published.filter((p) => p.event === 'pool-ha-protected-vm-restart-failed').length, alerts);
});

test('ha_prevent_restarts_for holds back the restart pass; below one second releases', { timeout: 30_000 }, async (t) => {
  const { sim, hosts } = await pool(t, false);
  const [h1, h2, h3] = hosts as [Ref, Ref, Ref];
  const p = await newVm(sim, 1, 'restart');
  await sim.ok('host1', 'VM.start_on', { vm: p, host: h3 });
  const svc = sim.services.get('host1')!;
  await sim.ok('host1', 'pool.ha_prevent_restarts_for', { seconds: 60 });
  sim.kill('host3');
  assert.equal((await svc.restarts.pass(new Set([h1, h2]))).held, true);
  assert.equal(svc.db.tables.VM[p]?.power_state, 'Running', 'nothing touched while held');
  await sim.ok('host1', 'pool.ha_prevent_restarts_for', { seconds: 0 });
  const r = await svc.restarts.pass(new Set([h1, h2]));
  assert.equal(r.held, false);
  assert.deepEqual(r.restarted.map((x) => x.vm), [p]);
});
