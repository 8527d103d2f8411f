import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyRecord, commit, emptyDatabase, get, isLive, poolEntry, refs } from '../../../src/hook-libs/pool/model/database.ts';
import {
  bootstrap, chooseHost, pbdCreate, pbdDestroy, pbdPlug, pbdUnplug, srCreate, srDestroy, srIntroduce, vmCreate, vmDestroy,
  vmHalted, vmSetOrder, vmSetRestartPriority, vmStarted, setMaster,
} from '../../../src/hook-libs/pool/model/operations.ts';
import { CommandError } from '../../../src/core/errors.ts';
import type { Database, DbRedoRecord } from '../../../src/hook-libs/pool/model/records.ts';
import { H1, H2, H3, HOSTS, labDb, uuids } from './fixtures.ts';

const srArgs = { name_label: 'nfs', name_description: '', type: 'nfs', content_type: 'user', shared: true, physical_size: 1000, sm_config: {}, required_cluster_stack: [] };

function throwsXapi(fn: () => unknown, name: string, params?: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CommandError, `expected CommandError, got ${String(e)}`);
    assert.equal(e.errorName, name);
    if (params) assert.deepEqual(e.params, params);
    return true;
  });
}

test('bootstrap creates the pool, hosts and metrics with xapi field names; only the master starts live', () => {
  const db = labDb();
  assert.equal(db.generation, 1);
  const [, pool] = poolEntry(db);
  assert.equal(pool.master, H1);
  assert.equal(pool.ha_enabled, false);
  assert.deepEqual(pool.other_config, {});
  assert.equal(refs(db, 'host').length, 3);
  assert.equal(get(db, 'host', H2).address, '127.0.0.1:9002');
  assert.ok(H1.startsWith('OpaqueRef:'));
  assert.equal(isLive(db, H1), true);
  assert.equal(isLive(db, H2), false);
});

test('bootstrap is deterministic: the same configuration gives the same refs on every host', () => {
  const a = bootstrap('lab', HOSTS, 'host1', 5);
  const b = bootstrap('lab', HOSTS, 'host1', 5);
  assert.deepEqual(a, b);
  assert.notDeepEqual(bootstrap('other', HOSTS, 'host1', 5), a);
});

test('an unknown reference fails with HANDLE_INVALID [class, ref] and nothing changes', () => {
  const db = labDb();
  throwsXapi(() => get(db, 'VM', 'OpaqueRef:nope'), 'HANDLE_INVALID', ['VM', 'OpaqueRef:nope']);
  throwsXapi(() => get(db, 'host', 'toString'), 'HANDLE_INVALID', ['host', 'toString']);
  throwsXapi(() => vmSetOrder(db, 'OpaqueRef:x', 1), 'HANDLE_INVALID', ['VM', 'OpaqueRef:x']);
});

test('replaying the redo records rebuilds the same database; old generations are ignored', () => {
  let db: Database = emptyDatabase();
  const log: DbRedoRecord[] = [];
  const id = uuids();
  const step = (changes: Parameters<typeof commit>[1]) => {
    const r = commit(db, changes);
    db = r.db;
    log.push(r.redo);
  };
  step(bootstrap('lab', HOSTS, 'host1', 0));
  step(srCreate(db, H1, srArgs, {}, id).changes);
  const vm = vmCreate({ name_label: 'web', memory_static_max: 1024 }, id());
  step(vm.changes);
  step(vmStarted(db, vm.ref, H2, false));
  const replayed = log.reduce(applyRecord, emptyDatabase());
  assert.deepEqual(replayed, db);
  assert.deepEqual([...log, ...log].reduce(applyRecord, emptyDatabase()), db);
});

test('SR.create shared plugs a PBD on every host; SR.destroy refuses while PBDs exist', () => {
  let db = labDb();
  const { ref, changes } = srCreate(db, H1, srArgs, { server: 'nfs1' }, uuids());
  db = commit(db, changes).db;
  const sr = get(db, 'SR', ref);
  assert.equal(sr.PBDs.length, 3);
  for (const p of sr.PBDs) assert.equal(get(db, 'PBD', p).currently_attached, true);
  assert.equal(get(db, 'host', H3).PBDs.length, 1);
  throwsXapi(() => srDestroy(db, ref), 'SR_HAS_PBD', [ref]);
});

test('PBD lifecycle: create, duplicate refused, plug, destroy refused while attached, unplug, destroy', () => {
  let db = labDb();
  const sr = srIntroduce('sr-1', { ...srArgs, shared: false });
  db = commit(db, sr).db;
  const srRef = 'OpaqueRef:sr-1';
  const p = pbdCreate(db, H2, srRef, {}, {}, 'pbd-1');
  db = commit(db, p.changes).db;
  assert.deepEqual(get(db, 'SR', srRef).PBDs, [p.ref]);
  throwsXapi(() => pbdCreate(db, H2, srRef, {}, {}, 'pbd-2'), 'PBD_EXISTS', [srRef, H2, p.ref]);
  db = commit(db, pbdPlug(db, p.ref)).db;
  throwsXapi(() => pbdDestroy(db, p.ref), 'OPERATION_NOT_ALLOWED');
  db = commit(db, pbdUnplug(db, p.ref)).db;
  db = commit(db, pbdDestroy(db, p.ref)).db;
  assert.deepEqual(get(db, 'SR', srRef).PBDs, []);
  assert.deepEqual(get(db, 'host', H2).PBDs, []);
  db = commit(db, srDestroy(db, srRef)).db;
  assert.deepEqual(refs(db, 'SR'), []);
});

test('PBD.plug of an SR that needs another cluster stack than the active one is refused', () => {
  let db = labDb();
  const [poolRef] = poolEntry(db);
  db = commit(db, [{ op: 'mod', class: 'pool', ref: poolRef, fields: { ha_enabled: true, ha_cluster_stack: 'xhad' } }]).db;
  db = commit(db, srIntroduce('g', { ...srArgs, type: 'gfs2', required_cluster_stack: ['corosync'] })).db;
  const p = pbdCreate(db, H1, 'OpaqueRef:g', {}, {}, 'pg');
  db = commit(db, p.changes).db;
  throwsXapi(() => pbdPlug(db, p.ref), 'INCOMPATIBLE_CLUSTER_STACK_ACTIVE', ['corosync']);
});

test('VM priorities: only restart | best-effort | "" are valid (INVALID_VALUE [ha_restart_priority, v])', () => {
  let db = labDb();
  throwsXapi(() => vmCreate({ name_label: 'x', memory_static_max: 1, ha_restart_priority: 'always' }, 'v0'), 'INVALID_VALUE', ['ha_restart_priority', 'always']);
  const vm = vmCreate({ name_label: 'x', memory_static_max: 1 }, 'v1');
  db = commit(db, vm.changes).db;
  throwsXapi(() => vmSetRestartPriority(db, vm.ref, 'Restart'), 'INVALID_VALUE', ['ha_restart_priority', 'Restart']);
  db = commit(db, vmSetRestartPriority(db, vm.ref, 'best-effort')).db;
  assert.equal(get(db, 'VM', vm.ref).ha_restart_priority, 'best-effort');
  db = commit(db, vmSetOrder(db, vm.ref, 3)).db;
  assert.equal(get(db, 'VM', vm.ref).order, 3);
});

test('VM start and shutdown keep resident_on, resident_VMs, free memory and ha_always_run consistent', () => {
  let db = labDb();
  const vm = vmCreate({ name_label: 'db', memory_static_max: 3000, ha_restart_priority: 'restart' }, 'v1');
  db = commit(db, vm.changes).db;
  db = commit(db, vmStarted(db, vm.ref, H2, false)).db;
  let rec = get(db, 'VM', vm.ref);
  assert.equal(rec.power_state, 'Running');
  assert.equal(rec.resident_on, H2);
  assert.equal(rec.ha_always_run, true);
  assert.deepEqual(get(db, 'host', H2).resident_VMs, [vm.ref]);
  assert.equal(get(db, 'host_metrics', get(db, 'host', H2).metrics).memory_free, 1096);
  throwsXapi(() => vmStarted(db, vm.ref, H3, false), 'VM_BAD_POWER_STATE', [vm.ref, 'halted', 'running']);
  throwsXapi(() => vmDestroy(db, vm.ref), 'VM_BAD_POWER_STATE');
  const big = vmCreate({ name_label: 'big', memory_static_max: 2000 }, 'v2');
  db = commit(db, big.changes).db;
  throwsXapi(() => vmStarted(db, big.ref, H2, false), 'HOST_NOT_ENOUGH_FREE_MEMORY', ['2000', '1096']);
  db = commit(db, vmHalted(db, vm.ref)).db;
  rec = get(db, 'VM', vm.ref);
  assert.equal(rec.power_state, 'Halted');
  assert.equal(rec.resident_on, 'OpaqueRef:NULL');
  assert.equal(rec.ha_always_run, false);
  assert.equal(get(db, 'host_metrics', get(db, 'host', H2).metrics).memory_free, 4096);
});

test('VM.start picks the live host with the most free memory', () => {
  const db = labDb();
  const vm = vmCreate({ name_label: 'a', memory_static_max: 100 }, 'v');
  const d2 = commit(db, vm.changes).db;
  assert.equal(chooseHost(d2, vm.ref, () => true), H1);
  assert.equal(chooseHost(d2, vm.ref, (h) => h !== H1), H2);
  throwsXapi(() => chooseHost(d2, vm.ref, () => false), 'HOST_NOT_ENOUGH_FREE_MEMORY');
});

test('setMaster moves pool.master and marks the new master live', () => {
  let db = labDb();
  db = commit(db, setMaster(db, H3, 10)).db;
  assert.equal(poolEntry(db)[1].master, H3);
  assert.equal(isLive(db, H3), true);
});
