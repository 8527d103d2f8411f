// pool.enable_ha's checks in xapi's order and the cluster-stack rules (spec/xapi-ha.md §1.2, §2),
// as pure functions over a database.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommandError } from '../../../src/core/errors.ts';
import { commit, poolEntry } from '../../../src/hook-libs/pool/model/database.ts';
import { pbdPlug, pbdUnplug, setLive, srCreate, type SrArgs } from '../../../src/hook-libs/pool/model/operations.ts';
import type { Database, DbChange } from '../../../src/hook-libs/pool/model/records.ts';
import { chooseClusterStack, checkEnable, type StackInfo } from '../../../src/hook-libs/pool/ha/enable-checks.ts';
import { H1, H2, H3, labDb, uuids } from './fixtures.ts';

const stacks = new Map<string, StackInfo>([
  ['xhad', { statefileSrTypes: ['file'], installed: true }],
  ['corosync', { statefileSrTypes: ['gfs2'], installed: false }],
]);
const ctx = { inProgress: undefined, stacks, testing: false };
const apply = (db: Database, changes: DbChange[]) => commit(db, changes).db;

function sr(db: Database, type: string, shared: boolean, required: string[], host = H1): { db: Database; ref: string } {
  const a: SrArgs = { name_label: type, name_description: '', type, content_type: '', shared, physical_size: 0, sm_config: {}, required_cluster_stack: required };
  const r = srCreate(db, host, a, { location: '/srv/ha' }, uuids(type));
  return { db: apply(db, r.changes), ref: r.ref };
}

const err = (fn: () => unknown): [string, readonly string[]] => {
  try {
    fn();
  } catch (e) {
    if (e instanceof CommandError) return [e.errorName, e.params];
    throw e;
  }
  return ['none', []];
};

test('enable checks: in progress, already enabled, a host offline, in that order', () => {
  const { db, ref } = sr(labDb(), 'file', true, []);
  const args = { heartbeatSrs: [ref], configuration: { timeout: '30' }, clusterStack: '' };
  let d = apply(db, [...setLive(db, H2, true), ...setLive(db, H3, false)]);
  assert.deepEqual(err(() => checkEnable(d, H1, args, { ...ctx, inProgress: 'ha_disable' })), ['HA_DISABLE_IN_PROGRESS', []]);
  const [poolRef] = poolEntry(d);
  const enabled = apply(d, [{ op: 'mod', class: 'pool', ref: poolRef, fields: { ha_enabled: true } }]);
  assert.deepEqual(err(() => checkEnable(enabled, H1, args, ctx)), ['HA_IS_ENABLED', []], 'before the host check');
  assert.deepEqual(err(() => checkEnable(d, H1, args, ctx)), ['HOST_OFFLINE', [H3]]);
  d = apply(d, setLive(d, H3, true));
  assert.deepEqual(checkEnable(d, H1, args, ctx), { stack: 'xhad', sr: ref, timeoutMs: 30_000 });
  assert.deepEqual(err(() => checkEnable(d, H1, { ...args, configuration: { timeout: '5' } }, ctx)), ['INVALID_VALUE', ['timeout', '5']]);
  assert.equal(checkEnable(d, H1, { ...args, configuration: { timeout: '5' } }, { ...ctx, testing: true }).timeoutMs, 5000);
});

test('cluster stack: requested, constrained by attached SRs, else xhad', () => {
  let db = labDb();
  assert.equal(chooseClusterStack(db, H1, '', stacks), 'xhad');
  assert.deepEqual(err(() => chooseClusterStack(db, H1, 'etcd', stacks)), ['UNKNOWN_CLUSTER_STACK', ['etcd']]);
  assert.deepEqual(err(() => chooseClusterStack(db, H1, 'corosync', stacks)), ['UNKNOWN_CLUSTER_STACK', ['corosync']], 'no directory under cluster-stack-root');
  const g = sr(db, 'gfs2', false, ['corosync']);
  db = g.db;
  assert.deepEqual(err(() => chooseClusterStack(db, H1, 'xhad', stacks)), ['CLUSTER_STACK_CONSTRAINT', [g.ref, 'corosync']]);
  assert.deepEqual(err(() => chooseClusterStack(db, H1, '', stacks)), ['UNKNOWN_CLUSTER_STACK', ['corosync']]);
  // Only SRs attached on the master count.
  const pbd = db.tables.SR[g.ref]?.PBDs[0] as string;
  db = apply(db, pbdUnplug(db, pbd));
  assert.equal(chooseClusterStack(db, H1, 'xhad', stacks), 'xhad');
  // Two SRs requiring different stacks are never attached at once.
  const other = sr(db, 'special', false, ['etcd']);
  db = other.db;
  assert.deepEqual(err(() => pbdPlug(db, pbd)), ['INCOMPATIBLE_CLUSTER_STACK_ACTIVE', ['etcd']]);
});

test('heartbeat SR: chosen when none is given, refused when not on every host or of the wrong type', () => {
  let db = labDb();
  db = apply(db, [...setLive(db, H2, true), ...setLive(db, H3, true)]);
  const args = { heartbeatSrs: [] as string[], configuration: {}, clusterStack: '' };
  assert.deepEqual(err(() => checkEnable(db, H1, args, ctx)), ['CANNOT_CREATE_STATE_FILE', []]);
  const local = sr(db, 'file', false, [], H2);
  db = local.db;
  assert.deepEqual(err(() => checkEnable(db, H1, { ...args, heartbeatSrs: [local.ref] }, ctx)), ['SR_NO_PBDS', [local.ref]]);
  const nfs = sr(db, 'nfs', true, []);
  db = nfs.db;
  assert.deepEqual(err(() => checkEnable(db, H1, { ...args, heartbeatSrs: [nfs.ref] }, ctx)), ['INCOMPATIBLE_STATEFILE_SR', ['file']]);
  const shared = sr(db, 'file', true, []);
  assert.equal(checkEnable(shared.db, H1, args, ctx).sr, shared.ref, 'the first SR that can hold the statefile');
  assert.equal(checkEnable(shared.db, H1, args, ctx).timeoutMs, 60_000, "xapi's default T");
});
