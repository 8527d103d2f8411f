import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CommandError } from '../../../src/core/errors.ts';
import { commit, emptyDatabase, poolEntry } from '../../../src/hook-libs/pool/model/database.ts';
import { bootstrap, hostRefOf, vmCreate, vmStarted } from '../../../src/hook-libs/pool/model/operations.ts';
import {
  assertChangePreservesPlan, maxHostFailuresToTolerate, planForFailures, planningProblem, poolStatusUpdate, vmFailoverPlan,
} from '../../../src/hook-libs/pool/model/planner.ts';
import { bestEffortToTry, declareDead, orderGroups, restartPlan } from '../../../src/hook-libs/pool/model/restarts.ts';
import type { Database, DbChange, Ref } from '../../../src/hook-libs/pool/model/records.ts';
import { H1, H2, H3, labDb } from './fixtures.ts';

/** The lab pool (8 GiB, 4 GiB, 4 GiB) with every host live. */
function livePool(): Database {
  let db = labDb();
  const live: DbChange[] = [H2, H3].map((h) => ({ op: 'mod', class: 'host_metrics', ref: db.tables.host[h]?.metrics ?? '', fields: { live: true } }));
  db = commit(db, live).db;
  return db;
}

const ALL = new Set([H1, H2, H3]);
let next = 0;

/** Adds a VM of `mb` with a priority; started on `host` when given. */
function vm(db: Database, mb: number, priority: '' | 'restart' | 'best-effort', host?: Ref, order = 0): { db: Database; ref: Ref } {
  const c = vmCreate({ name_label: `vm${++next}`, memory_static_max: mb, ha_restart_priority: priority, order }, `vm-${String(next).padStart(4, '0')}`);
  let out = commit(db, c.changes).db;
  if (host) out = commit(out, vmStarted(out, c.ref, host, false)).db;
  return { db: out, ref: c.ref };
}

function haOn(db: Database, fields: Record<string, unknown> = {}): Database {
  return commit(db, [{ op: 'mod', class: 'pool', ref: poolEntry(db)[0], fields: { ha_enabled: true, ...fields } }]).db;
}

test('no protected VM: a plan exists for any failures up to the hosts, and no packing runs', () => {
  let db = livePool();
  db = vm(db, 2048, '', H1).db;
  db = vm(db, 2048, 'best-effort', H2).db;
  assert.deepEqual(planForFailures(db, ALL, 2), { status: 'Plan_exists_for_all_VMs', heuristic: 'none' });
  assert.deepEqual(planForFailures(db, ALL, 4), { status: 'No_plan_exists', heuristic: 'trivial' });
  assert.equal(maxHostFailuresToTolerate(db, ALL).max, 3);
});

test("the heuristic is chosen on the hosts in the pool, live or not (xapi's total_hosts)", () => {
  const names = Array.from({ length: 17 }, (_, i) => ({ name: `p${String(i).padStart(2, '0')}`, address: `127.0.0.1:${9100 + i}`, memoryTotal: 8192 }));
  let db = commit(emptyDatabase(), bootstrap('seventeen', names, 'p00', 1_700_000_000_000)).db;
  const refs = names.map((n) => hostRefOf('seventeen', n.name));
  db = commit(db, refs.map((h): DbChange => ({ op: 'mod', class: 'host_metrics', ref: db.tables.host[h]?.metrics ?? '', fields: { live: true } }))).db;
  db = vm(db, 2048, 'restart', refs[1]).db;
  const sixteen = new Set(refs.slice(0, 16));
  assert.equal(planningProblem(db, sixteen, 3).config.hosts.length, 16);
  // 17·16·15 = 4080 ≥ 3500 → approximate, although 16 live hosts alone would give 3360 → exhaustive.
  assert.deepEqual(planForFailures(db, sixteen, 3), { status: 'Plan_exists_for_all_VMs', heuristic: 'approximate' });
  assert.deepEqual(planForFailures(db, sixteen, 2), { status: 'Plan_exists_for_all_VMs', heuristic: 'exhaustive' });
});

test('protected VMs: failures tolerated follow free memory (static-max policy)', () => {
  let db = livePool();
  db = vm(db, 3072, 'restart', H2).db; // host2 has 1 GiB left
  db = vm(db, 3072, 'restart', H3).db; // host3 has 1 GiB left
  // host1 (8 GiB free) takes either VM, and both: 1 failure fine; 2 failures: host1 + one other → the other's VM has 1 GiB.
  assert.equal(planForFailures(db, ALL, 1).status, 'Plan_exists_for_all_VMs');
  assert.equal(planForFailures(db, ALL, 1).heuristic, 'exhaustive');
  assert.equal(planForFailures(db, ALL, 2).status, 'No_plan_exists');
  assert.equal(maxHostFailuresToTolerate(db, ALL).max, 1);
});

test('only hosts that are enabled, live and in the liveset count', () => {
  let db = livePool();
  db = vm(db, 3072, 'restart', H2).db;
  assert.equal(planForFailures(db, ALL, 1).status, 'Plan_exists_for_all_VMs');
  assert.equal(planForFailures(db, new Set([H2, H3]), 1).status, 'Plan_exists_for_all_VMs', 'host3 (4 GiB) takes the 3 GiB VM');
  assert.equal(planForFailures(db, new Set([H2]), 1).status, 'No_plan_exists');
  db = vm(db, 3072, '', H3).db;
  assert.equal(planForFailures(db, ALL, 1).status, 'Plan_exists_for_all_VMs');
  assert.equal(planForFailures(db, new Set([H2, H3]), 1).status, 'No_plan_exists', 'without host1 only 1 GiB is left on host3');
  const disabled = commit(db, [{ op: 'mod', class: 'host', ref: H1, fields: { enabled: false } }]).db;
  assert.equal(planForFailures(disabled, ALL, 1).status, 'No_plan_exists');
  assert.equal(planForFailures(db, ALL, 1, { hostsToDisable: [H1] }).status, 'No_plan_exists');
  assert.equal(planForFailures(db, ALL, 1, { hostsToDisable: [H3] }).status, 'Plan_exists_for_all_VMs');
});

test('halted protected VMs are placed first; one that fits nowhere means no plan at all', () => {
  let db = livePool();
  const a = vm(db, 6000, 'restart', H1);
  db = a.db;
  // Halted with ha_always_run kept, as after its host died: it must be placed now.
  db = commit(db, [{ op: 'mod', class: 'VM', ref: a.ref, fields: { power_state: 'Halted', resident_on: 'OpaqueRef:NULL' } },
    { op: 'mod', class: 'host', ref: H1, fields: { resident_VMs: [] } }]).db;
  const p = planningProblem(db, new Set([H2, H3]), 0);
  assert.deepEqual(p.unplaceable, [a.ref]);
  assert.equal(planForFailures(db, new Set([H2, H3]), 0).status, 'No_plan_exists');
  assert.equal(planForFailures(db, ALL, 0).status, 'Plan_exists_for_all_VMs');
});

test('hypothetical configuration: exactly the VMs mapped to restart are protected', () => {
  let db = livePool();
  const a = vm(db, 3072, '', H2);
  db = a.db;
  const b = vm(db, 3072, '', H3);
  db = b.db;
  assert.equal(maxHostFailuresToTolerate(db, ALL).max, 3);
  assert.equal(maxHostFailuresToTolerate(db, ALL, { hypothetical: new Map([[a.ref, 'restart'], [b.ref, 'restart']]) }).max, 1);
  assert.equal(maxHostFailuresToTolerate(db, ALL, { hypothetical: new Map([[a.ref, 'best-effort'], [b.ref, '']]) }).max, 3);
});

test('vm failover plan: per VM a host or an error code', () => {
  let db = livePool();
  const a = vm(db, 3072, 'restart', H2);
  db = a.db;
  const b = vm(db, 3500, 'restart', H3);
  db = b.db;
  const plan = vmFailoverPlan(db, ALL, [H2, H3], [a.ref, b.ref]);
  assert.deepEqual(plan[b.ref], { host: H1 });
  assert.deepEqual(plan[a.ref], { host: H1 });
  const tight = vmFailoverPlan(db, ALL, [H1, H3], [b.ref]);
  assert.deepEqual(tight[b.ref], { error_code: 'HOST_NOT_ENOUGH_FREE_MEMORY' });
});

test('admission control: only with HA on and overcommit off; never blocks a pool without a plan', () => {
  let db = livePool();
  db = vm(db, 3072, 'restart', H2).db;
  db = vm(db, 2048, '', H3).db;
  const big = vm(db, 6000, '', undefined);
  db = big.db;
  const small = vm(db, 1024, '', undefined);
  db = small.db;
  const starting = { vmsArriving: new Map([[big.ref, H1]]) };
  // HA off: anything goes.
  assertChangePreservesPlan(db, ALL, starting);
  const on = haOn(db, { ha_plan_exists_for: 1, ha_host_failures_to_tolerate: 1 });
  assert.throws(() => assertChangePreservesPlan(on, ALL, starting),
    (e: unknown) => e instanceof CommandError && e.errorName === 'HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN' && e.params.length === 0);
  // A small VM leaves room on host1 for host2's VM: allowed.
  assertChangePreservesPlan(on, ALL, { vmsArriving: new Map([[small.ref, H1]]) });
  // Making the running 2 GiB VM on host3 protected as well: host1 takes both: allowed.
  assertChangePreservesPlan(on, ALL, { hostsToDisable: [] });
  assert.throws(() => assertChangePreservesPlan(on, ALL, { hostsToDisable: [H1] }), /would break/);
  assertChangePreservesPlan(haOn(on, { ha_allow_overcommit: true }), ALL, starting);
  // Already without a plan for r = 2: not blocked.
  assertChangePreservesPlan(haOn(on, { ha_plan_exists_for: 2 }), ALL, starting);
});

test('pool status: overcommitted with the alerts xapi raises, and back', () => {
  let db = livePool();
  db = vm(db, 3072, 'restart', H2).db;
  db = vm(db, 3072, 'restart', H3).db;
  db = haOn(db, { ha_host_failures_to_tolerate: 1, ha_plan_exists_for: 1 });
  assert.deepEqual(poolStatusUpdate(db, ALL).fields, {});
  const target2 = commit(db, [{ op: 'mod', class: 'pool', ref: poolEntry(db)[0], fields: { ha_host_failures_to_tolerate: 2 } }]).db;
  const u = poolStatusUpdate(target2, ALL);
  assert.deepEqual(u.fields, { ha_overcommitted: true });
  assert.deepEqual(u.events, [{ name: 'HA_POOL_OVERCOMMITTED' }]);
  // host1 leaves: the plan for 1 failure is gone too (max 0): a drop alert.
  const u2 = poolStatusUpdate(target2, new Set([H2, H3]));
  assert.deepEqual(u2.fields, { ha_plan_exists_for: 0, ha_overcommitted: true });
  assert.deepEqual(u2.events, [{ name: 'HA_POOL_DROP_IN_PLAN_EXISTS_FOR', value: 0 }, { name: 'HA_POOL_OVERCOMMITTED' }]);
  const over = commit(target2, [{ op: 'mod', class: 'pool', ref: poolEntry(db)[0], fields: { ha_overcommitted: true, ha_host_failures_to_tolerate: 1 } }]).db;
  assert.deepEqual(poolStatusUpdate(over, ALL).fields, { ha_overcommitted: false });
});

test('restarts: a dead host is declared dead and its VMs reset; the plan places the protected ones', () => {
  let db = livePool();
  const p = vm(db, 2048, 'restart', H2, 2);
  db = p.db;
  const q = vm(db, 1024, 'restart', H2, 1);
  db = q.db;
  const e = vm(db, 512, 'best-effort', H2);
  db = e.db;
  const u = vm(db, 256, '', H2);
  db = u.db;
  const live = new Set([H1, H3]);
  const dead = declareDead(db, live);
  assert.deepEqual(dead.failed.map((f) => f.host), [H2]);
  assert.deepEqual([...dead.resetVms].sort(), [p.ref, q.ref, e.ref, u.ref].sort());
  const after = commit(db, dead.changes).db;
  assert.equal(after.tables.VM[p.ref]?.power_state, 'Halted');
  assert.equal(after.tables.VM[p.ref]?.ha_always_run, true, 'protection survives the reset');
  assert.equal(after.tables.host_metrics[after.tables.host[H2]?.metrics ?? '']?.live, false);
  const plan = restartPlan(after, live);
  assert.equal(plan.complete, true);
  assert.deepEqual([...plan.placement.keys()].sort(), [p.ref, q.ref].sort());
  assert.deepEqual(orderGroups(after, [p.ref, q.ref]), [[q.ref], [p.ref]]);
  assert.deepEqual(bestEffortToTry(after, { allProtectedRestarted: true, livesetGrew: false, livesetUnchanged: false, newlyReset: dead.resetVms, failedBefore: new Map() }), [e.ref]);
  assert.deepEqual(bestEffortToTry(after, { allProtectedRestarted: false, livesetGrew: false, livesetUnchanged: false, newlyReset: dead.resetVms, failedBefore: new Map([[e.ref, 2]]) }), []);
});

test('order groups: ascending, negative last, by ref within a group', () => {
  let db = livePool();
  const a = vm(db, 1, 'restart', undefined, -1);
  db = a.db;
  const b = vm(db, 1, 'restart', undefined, 5);
  db = b.db;
  const c = vm(db, 1, 'restart', undefined, 0);
  db = c.db;
  const d = vm(db, 1, 'restart', undefined, 0);
  db = d.db;
  assert.deepEqual(orderGroups(db, [a.ref, b.ref, c.ref, d.ref]), [[c.ref, d.ref], [b.ref], [a.ref]]);
});
