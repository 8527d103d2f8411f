import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimPool, poolParams, until } from './sim-pool.ts';

const A = '127.0.0.1:9001';

async function pool3(t: { after: (fn: () => Promise<void>) => void }, faults = false): Promise<SimPool> {
  const sim = new SimPool(poolParams(), faults);
  t.after(() => sim.stopAll());
  for (const n of sim.names) await sim.start(n);
  return sim;
}

const liveOf = async (sim: SimPool, at: string) => {
  const metrics = (await sim.ok(at, 'host_metrics.get_all_records')) as Record<string, { live: boolean }>;
  const hosts = (await sim.ok(at, 'host.get_all_records')) as Record<string, { name_label: string; metrics: string }>;
  return Object.fromEntries(Object.values(hosts).map((h) => [h.name_label, metrics[h.metrics]?.live]));
};

test('sim: slaves heartbeat and show live; a killed slave goes not live and calls to it get HOST_OFFLINE', async (t) => {
  const sim = await pool3(t);
  await until(async () => Object.values(await liveOf(sim, 'host1')).every(Boolean));
  const hosts = (await sim.ok('host1', 'host.get_all_records')) as Record<string, { name_label: string }>;
  const ref3 = Object.entries(hosts).find(([, h]) => h.name_label === 'host3')?.[0] as string;
  assert.equal(typeof (await sim.ok('host1', 'host.get_servertime', { host: ref3 })), 'string');
  sim.kill('host3');
  const early = await sim.call('host1', 'host.get_servertime', { host: ref3 });
  assert.equal(early.error, 'CANNOT_CONTACT_HOST');
  await until(async () => (await liveOf(sim, 'host1'))['host3'] === false);
  const late = await sim.call('host1', 'host.get_servertime', { host: ref3 });
  assert.equal(late.error, 'HOST_OFFLINE');
  assert.deepEqual(late.params, [ref3]);
  const slave = await sim.call('host2', 'pool.get_all_records');
  assert.equal(slave.error, 'HOST_IS_SLAVE');
  assert.deepEqual(slave.params, [A]);
});

test('sim: designate_new_master commits on all hosts, the old master becomes a slave and records move over', async (t) => {
  const sim = await pool3(t);
  await until(async () => Object.values(await liveOf(sim, 'host1')).every(Boolean));
  const vm = await sim.ok('host1', 'VM.create', { args: { name_label: 'web', memory_static_max: 1024 } });
  const hosts = (await sim.ok('host1', 'host.get_all_records')) as Record<string, { name_label: string }>;
  const ref2 = Object.entries(hosts).find(([, h]) => h.name_label === 'host2')?.[0] as string;
  assert.equal(await sim.ok('host1', 'pool.designate_new_master', { host: ref2 }), '');
  for (const n of sim.names) assert.equal(sim.status(n)['master'], '127.0.0.1:9002', n);
  assert.equal(sim.status('host2')['role'], 'master');
  assert.equal(sim.status('host1')['role'], 'slave');
  const vms = (await sim.ok('host2', 'VM.get_all')) as string[];
  assert.deepEqual(vms, [vm]);
  const pool = Object.values((await sim.ok('host2', 'pool.get_all_records')) as Record<string, { master: string }>)[0];
  assert.equal(pool?.master, ref2);
  await until(async () => Object.values(await liveOf(sim, 'host2')).every(Boolean));
});

test('sim: a failed proposal aborts everywhere and the old master keeps going', async (t) => {
  const sim = await pool3(t);
  const hosts = (await sim.ok('host1', 'host.get_all_records')) as Record<string, { name_label: string }>;
  const ref2 = Object.entries(hosts).find(([, h]) => h.name_label === 'host2')?.[0] as string;
  await until(async () => Object.values(await liveOf(sim, 'host1')).every(Boolean));
  // host3 has promised someone else
  assert.equal(await sim.ok('host3', 'host.propose_new_master', { address: '127.0.0.1:9001', manual: true }), '');
  const r = await sim.call('host1', 'pool.designate_new_master', { host: ref2 });
  assert.equal(r.error, 'HA_ABORT_NEW_MASTER');
  assert.match(String(r.params?.[0]), /Already agreed/);
  assert.equal(sim.status('host1')['role'], 'master');
  assert.equal(sim.status('host2')['role'], 'slave');
  assert.equal(sim.services.get('host2')?.proposal(), undefined);
  assert.equal(sim.services.get('host1')?.proposal(), undefined);
  assert.ok(await sim.ok('host1', 'VM.create', { args: { name_label: 'still-works', memory_static_max: 1 } }));
});

test('sim: master restart keeps every acknowledged record', async (t) => {
  const sim = await pool3(t);
  const made: unknown[] = [];
  for (let i = 0; i < 20; i++) made.push(await sim.ok('host1', 'VM.create', { args: { name_label: `vm${i}`, memory_static_max: 1 } }));
  sim.kill('host1');
  await sim.start('host1');
  const vms = (await sim.ok('host1', 'VM.get_all')) as string[];
  for (const v of made) assert.ok(vms.includes(v as string));
});

test('sim: JSON-RPC callers need a session; login on a slave gives HOST_IS_SLAVE', async (t) => {
  const sim = await pool3(t);
  const noSession = await sim.call('host1', 'pool.get_all_records', {}, 'jsonrpc-http');
  assert.equal(noSession.error, 'SESSION_INVALID');
  const bad = await sim.call('host1', 'session.login_with_password', { uname: 'root', pwd: 'nope' }, 'jsonrpc-http');
  assert.equal(bad.error, 'SESSION_AUTHENTICATION_FAILED');
  const login = await sim.call('host1', 'session.login_with_password', { uname: 'root', pwd: 'secret' }, 'jsonrpc-http');
  const session = login.arguments as string;
  const ok = await sim.call('host1', 'pool.get_all_records', { session_id: session }, 'jsonrpc-http');
  assert.equal(ok.result, 0);
  const slave = await sim.call('host2', 'session.login_with_password', { uname: 'root', pwd: 'secret' }, 'jsonrpc-http');
  assert.equal(slave.error, 'HOST_IS_SLAVE');
});

/** Acting masters among the hosts that are up: never more than one. */
function assertOneMaster(sim: SimPool): void {
  const masters = sim.names.filter((n) => sim.status(n)['role'] === 'master');
  assert.ok(masters.length <= 1, `two masters: ${masters.join(', ')}`);
}

/** Waits until every host follows one acting master with no promise left; returns that master. */
async function converged(sim: SimPool): Promise<string> {
  let master = '';
  await until(() => {
    assertOneMaster(sim);
    master = sim.names.find((n) => sim.status(n)['role'] === 'master') ?? '';
    const addr = `127.0.0.1:900${master.slice(-1)}`;
    return master !== '' && sim.names.every((n) => sim.status(n)['master'] === addr && sim.services.get(n)?.proposal() === undefined);
  }, 6000);
  return master;
}

async function crashAt(t: { after: (fn: () => Promise<void>) => void }, victim: string, point: string, restartAtOnce = false) {
  const sim = await pool3(t, true);
  await until(async () => Object.values(await liveOf(sim, 'host1')).every(Boolean));
  const hosts = (await sim.ok('host1', 'host.get_all_records')) as Record<string, { name_label: string }>;
  const ref2 = Object.entries(hosts).find(([, h]) => h.name_label === 'host2')?.[0] as string;
  await sim.ok(victim, 'host.set_fault_point', { point, delay: 3000 });
  const designate = sim.call('host1', 'pool.designate_new_master', { host: ref2 });
  await until(() => sim.services.get(victim)?.faultWaiting === point);
  sim.kill(victim);
  assertOneMaster(sim);
  if (restartAtOnce) await sim.start(victim);
  const answer = await designate;
  assertOneMaster(sim);
  if (!restartAtOnce) await sim.start(victim);
  return { sim, answer };
}

test('sim crash: coordinator killed between propose and commit; the change aborts when it returns', async (t) => {
  const { sim, answer } = await crashAt(t, 'host2', 'coordinator-after-proposals');
  assert.notEqual(answer.result, 0);
  assert.equal(await converged(sim), 'host1');
});

test('sim crash: coordinator killed right after deciding, back after the promises expired; the old master stays', async (t) => {
  const { sim } = await crashAt(t, 'host2', 'coordinator-after-decision');
  assert.equal(await converged(sim), 'host1');
});

test('sim crash: coordinator killed right after deciding, back at once; it commits everywhere', async (t) => {
  const { sim } = await crashAt(t, 'host2', 'coordinator-after-decision', true);
  assert.equal(await converged(sim), 'host2');
});

test('sim crash: participant killed before promising; the change aborts', async (t) => {
  const { sim, answer } = await crashAt(t, 'host3', 'participant-before-promise');
  assert.equal(answer.error, 'CANNOT_CONTACT_HOST');
  assert.equal(await converged(sim), 'host1');
});

test('sim crash: participant killed after promising, before answering; aborted, its promise expires', async (t) => {
  const { sim, answer } = await crashAt(t, 'host3', 'participant-after-promise');
  assert.equal(answer.error, 'CANNOT_CONTACT_HOST');
  assert.equal(await converged(sim), 'host1');
});

test('sim crash: participant killed after committing, before answering; the change stands', async (t) => {
  const { sim, answer } = await crashAt(t, 'host3', 'participant-after-commit');
  assert.equal(answer.result, 0);
  assert.equal(await converged(sim), 'host2');
});

test('sim: emergency_transition_to_master on a slave and recover_slaves bring the pool back', async (t) => {
  const sim = await pool3(t);
  await sim.ok('host1', 'VM.create', { args: { name_label: 'kept', memory_static_max: 1 } });
  // the slave's backup copy of the database catches up within the sync interval
  await until(() => Object.keys(sim.services.get('host2')?.db.tables.VM ?? {}).length === 1);
  sim.kill('host1');
  assert.equal(await sim.ok('host2', 'pool.emergency_transition_to_master'), '');
  const recovered = (await sim.ok('host2', 'pool.recover_slaves')) as string[];
  assert.equal(recovered.length, 1);
  assert.equal(sim.status('host3')['master'], '127.0.0.1:9002');
  const vms = (await sim.ok('host2', 'VM.get_all_records')) as Record<string, { name_label: string }>;
  assert.deepEqual(Object.values(vms).map((v) => v.name_label), ['kept']);
});

test('sim: a slave that follows a HOST_IS_SLAVE redirect announces its new master (pool-role event)', async (t) => {
  const sim = await pool3(t);
  await until(async () => Object.values(await liveOf(sim, 'host1')).every(Boolean));
  // host2 takes over without telling host3; host1 is told to follow it. host3's next heartbeat to
  // host1 is answered HOST_IS_SLAVE [host2], and host3 follows that.
  assert.equal(await sim.ok('host2', 'pool.emergency_transition_to_master'), '');
  assert.equal(await sim.ok('host1', 'pool.emergency_reset_master', { master_address: '127.0.0.1:9002' }), '');
  const mark = sim.published.length;
  await until(() => sim.status('host3')['master'] === '127.0.0.1:9002');
  const announced = sim.published.slice(mark).filter((p) => p.host === 'host3' && p.event === 'pool-role');
  assert.deepEqual(announced.map((p) => p.data), [{ host: 'host3', role: 'slave', master: '127.0.0.1:9002' }]);
  assert.ok(sim.logged.some((l) => l['host'] === 'host3' && l['msgId'] === 'POOL_FOLLOW_MASTER'));
});
