import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../helpers/liveset.ts';
import { TIMERS, allLive, kea, convergence, errorOf, startPool, watchMasters, type PoolCluster } from './pool-helpers.ts';

/** A fresh three-host pool for one test, stopped when that test ends. */
async function pool(t: TestContext, timers: Partial<typeof TIMERS> = {}): Promise<PoolCluster> {
  const c = await startPool({ faults: true, timers });
  t.after(() => c.stopAll());
  await allLive(c);
  return c;
}

const addressOf = (c: PoolCluster, name: string) => new URL(c.url(name)).host;

test('designate_new_master commits on every host; the old master becomes a slave and the records move', async (t) => {
  const c = await pool(t);
  const refs = await c.refs('host1');
  const vm = (await kea(c.url('host1'), 'VM.create', { args: { name_label: 'kept', memory_static_max: 1 } })).arguments;
  const watch = watchMasters(c, t);
  const a = await kea(c.url('host1'), 'pool.designate_new_master', { host: refs['host2'] });
  assert.equal(a.result, 0, a.text);
  assert.equal(await convergence(c), 'host2');
  for (const n of c.names) assert.equal((await c.status(n))?.['master_address'], addressOf(c, 'host2'), n);
  assert.deepEqual(await watch.stop(), [], 'never two masters');
  assert.deepEqual((await kea(c.url('host2'), 'VM.get_all')).arguments, [vm]);
  const pools = (await kea(c.url('host2'), 'pool.get_all_records')).arguments as Record<string, { master: string }>;
  assert.equal(Object.values(pools)[0]?.master, refs['host2']);
  assert.deepEqual(errorOf(await kea(c.url('host1'), 'VM.get_all')), { error: 'HOST_IS_SLAVE', params: [addressOf(c, 'host2')] });
  await allLive(c, 'host2');
});

test('a refused proposal aborts the change on every host and the old master carries on', async (t) => {
  const c = await pool(t);
  const refs = await c.refs('host1');
  // host3 has promised itself to host1 (a pending proposal of another change)
  assert.equal((await c.asPeer('host3', 'host.propose_new_master', { address: addressOf(c, 'host1'), manual: true })).result, 0);
  const a = await kea(c.url('host1'), 'pool.designate_new_master', { host: refs['host2'] });
  const e = errorOf(a);
  assert.equal(e.error, 'HA_ABORT_NEW_MASTER');
  assert.match(String(e.params?.[0]), /^Already agreed to commit host address '127\.0\.0\.1:\d+' at .* secs ago\)$/);
  for (const n of ['host1', 'host2']) assert.equal((await c.status(n))?.['proposal'], undefined, `${n} was told to abort`);
  assert.equal((await c.status('host1'))?.['role'], 'master');
  assert.equal((await c.status('host2'))?.['role'], 'slave');
  assert.equal((await kea(c.url('host1'), 'VM.create', { args: { name_label: 'still', memory_static_max: 1 } })).result, 0);
  assert.equal((await c.asPeer('host3', 'host.abort_new_master', { address: addressOf(c, 'host1') })).result, 0);
});

/** Pauses `victim` at `point`, starts a change to host2, kills the victim there, and brings it back. */
async function crashDuringChange(
  t: TestContext, victim: string, point: string, back: 'at-once' | 'after-answer' | 'after-expiry', timers: Partial<typeof TIMERS> = {},
  before: (c: PoolCluster) => Promise<void> = async () => undefined,
) {
  // A busy machine can take over a second to answer one call; the change must not abort for that.
  const c = await pool(t, { 'forward-timeout': 3_000, ...timers });
  await before(c);
  const refs = await c.refs('host1');
  const watch = watchMasters(c, t);
  assert.equal((await kea(c.url(victim), 'host.set_fault_point', { point, delay: 20_000 })).result, 0);
  // The caller may lose its connection when the victim is the host it called.
  const answer = kea(c.url('host1'), 'pool.designate_new_master', { host: refs['host2'] })
    .catch((err: unknown) => ({ result: -1, text: String(err), arguments: undefined }));
  await waitFor(async () => (await c.status(victim))?.['fault_waiting'] === point, { timeoutMs: 30_000, what: `${victim} at ${point}` });
  await c.hosts.get(victim)?.kill();
  if (back === 'at-once') await c.hosts.get(victim)?.restart();
  const result = await answer;
  if (back === 'after-expiry') await new Promise((r) => setTimeout(r, TIMERS['proposal-timeout'] + 500));
  if (back !== 'at-once') await c.hosts.get(victim)?.restart();
  const master = await convergence(c);
  assert.deepEqual(await watch.stop(), [], 'never two masters');
  return { c, master, result };
}

test('crash: coordinator killed between propose and commit; it aborts everywhere when back', async (t) => {
  const { master, result } = await crashDuringChange(t, 'host2', 'coordinator-after-proposals', 'after-answer');
  assert.notEqual(result.result, 0);
  assert.equal(master, 'host1');
});

test('crash: coordinator killed just after its decision and back at once; it commits everywhere', async (t) => {
  // "At once" must stay within the promises' lifetime even when a loaded machine makes the restart slow.
  const { master } = await crashDuringChange(t, 'host2', 'coordinator-after-decision', 'at-once', { 'proposal-timeout': 30_000 });
  assert.equal(master, 'host2');
});

test('crash: coordinator killed after its decision and back only after the promises expired; the old master stays', async (t) => {
  const { master } = await crashDuringChange(t, 'host2', 'coordinator-after-decision', 'after-expiry');
  assert.equal(master, 'host1');
});

test('crash: participant killed before promising; the change aborts', async (t) => {
  const { master, result } = await crashDuringChange(t, 'host3', 'participant-before-promise', 'after-answer');
  assert.equal(errorOf(result).error, 'CANNOT_CONTACT_HOST');
  assert.equal(master, 'host1');
});

test('crash: participant killed after promising, before answering; the change aborts and its promise expires', async (t) => {
  const { master, result } = await crashDuringChange(t, 'host3', 'participant-after-promise', 'after-answer');
  assert.equal(errorOf(result).error, 'CANNOT_CONTACT_HOST');
  assert.equal(master, 'host1');
});

test('crash: participant killed after committing, before answering; the change stands', async (t) => {
  // host3 must get the commit itself: were its heartbeat to reach host1 after host1 committed, it
  // would follow the HOST_IS_SLAVE redirect first (a slow machine makes that likely) and the
  // commit would find nothing left to do.
  const { master, result } = await crashDuringChange(t, 'host3', 'participant-after-commit', 'after-answer', {}, async (c) => {
    assert.equal((await kea(c.url('host3'), 'fault-partition', { peers: ['host1'], direction: 'out' })).result, 0);
  });
  assert.equal(result.result, 0);
  assert.equal(master, 'host2');
});

test('crash: the old master killed after promising; the change aborts and it is master again when back', async (t) => {
  const { master, result } = await crashDuringChange(t, 'host1', 'participant-after-promise', 'at-once');
  assert.notEqual(result.result, 0);
  assert.equal(master, 'host1');
});

test('emergency_transition_to_master on a slave, then recover_slaves', async (t) => {
  const c = await pool(t);
  const vm = (await kea(c.url('host1'), 'VM.create', { args: { name_label: 'backed-up', memory_static_max: 1 } })).arguments as string;
  const generation = (await c.status('host1'))?.['generation'] as number;
  // the slave's backup copy of the database catches up within the sync interval
  await waitFor(async () => ((await c.status('host2'))?.['generation'] as number) >= generation, { timeoutMs: 20_000 });
  await c.hosts.get('host1')?.kill();
  assert.equal((await kea(c.url('host2'), 'pool.emergency_transition_to_master')).result, 0);
  const recovered = await kea(c.url('host2'), 'pool.recover_slaves');
  assert.equal((recovered.arguments as string[]).length, 1);
  assert.equal((await c.status('host3'))?.['master_address'], addressOf(c, 'host2'));
  assert.deepEqual((await kea(c.url('host2'), 'VM.get_all')).arguments, [vm]);
  await c.hosts.get('host1')?.restart();
  // host1 restarts believing it is master; recover_slaves again brings it in
  assert.equal(((await kea(c.url('host2'), 'pool.recover_slaves')).arguments as string[]).length, 2);
  assert.equal(await convergence(c), 'host2');
});
