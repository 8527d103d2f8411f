// kill -9 between every two durable writes of a master change, on every host taking part: the
// memory store's crash twin stops the host right after its n-th local-store sync, then the host
// starts again from what was synced. Never two masters at any moment; one master at the end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimPool, poolParams, until } from './sim-pool.ts';
import type { MemoryStoreFactory } from '../../../src/store/memory-store.ts';

const VICTIMS = ['host2', 'host1', 'host3'] as const; // the new master, the old master, a bystander

/** Samples every running host's acting role until stopped; returns each moment two acted as master. */
function watch(sim: SimPool): { stop(): string[] } {
  const twice: string[] = [];
  const timer = setInterval(() => {
    const masters = sim.names.filter((n) => sim.services.get(n)?.acting() === 'master');
    if (masters.length > 1) twice.push(masters.join('+'));
  }, 2);
  return { stop: () => (clearInterval(timer), twice) };
}

/** Waits for one acting master that every host follows, with no promise or change pending. */
async function oneMaster(sim: SimPool): Promise<string> {
  let master = '';
  await until(() => {
    const svcs = sim.names.map((n) => sim.services.get(n));
    const masters = svcs.filter((s) => s?.acting() === 'master');
    if (masters.length !== 1 || svcs.some((s) => s === undefined)) return false;
    master = masters[0]!.me.name;
    const address = masters[0]!.me.address;
    return svcs.every((s) => s!.masterAddress() === address && s!.proposal() === undefined && s!.local.coordination === undefined);
  }, 20_000).catch(() => {
    const views = sim.names.map((n) => `${n}: ${JSON.stringify(sim.services.get(n)?.local)} acting ${sim.services.get(n)?.acting()}`);
    assert.fail(`no single master everyone follows:\n${views.join('\n')}`);
  });
  return master;
}

/** One run: designate host2, crash `victim` right after its `n`-th local sync. Returns whether the crash happened. */
async function run(victim: string, n: number): Promise<boolean> {
  const sim = new SimPool(poolParams());
  const watcher = watch(sim);
  try {
    for (const h of sim.names) await sim.start(h);
    const refs = Object.fromEntries(Object.entries((await sim.ok('host1', 'host.get_all_records')) as Record<string, { name_label: string }>).map(([r, h]) => [h.name_label, r]));
    await until(async () => {
      const metrics = (await sim.ok('host1', 'host_metrics.get_all_records')) as Record<string, { live: boolean }>;
      return Object.values(metrics).length === 3 && Object.values(metrics).every((m) => m.live);
    });
    let crashed = false;
    (sim.stores.get(victim) as MemoryStoreFactory).crashAfterSyncs('pool-local', n, () => {
      crashed = true;
      sim.kill(victim);
    });
    const answer = await sim.call('host1', 'pool.designate_new_master', { host: refs['host2'] }).catch((err: unknown) => ({ result: -1, text: String(err) }));
    if (crashed) await sim.start(victim);
    const master = await oneMaster(sim);
    if (crashed) assert.ok(master === 'host1' || master === 'host2', `${victim} crashed after sync ${n}: master is ${master}`);
    else assert.deepEqual([answer.result, master], [0, 'host2'], `no crash: the change commits (${answer.text})`);
    return crashed;
  } finally {
    const twice = watcher.stop();
    await sim.stopAll();
    assert.deepEqual(twice, [], `${victim} crashed after sync ${n}: two masters at once`);
  }
}

for (const victim of VICTIMS) {
  test(`master change: ${victim} killed between any two durable local steps; one master at the end, never two`, async () => {
    let crashes = 0;
    for (let n = 1; n <= 12; n++) {
      if (!(await run(victim, n))) break;
      crashes += 1;
    }
    assert.ok(crashes >= 1, `${victim} writes its local store during a master change`);
  });
}

test('two slaves that follow each other (no master) are reported as POOL_NO_MASTER, not silently kept', async (t) => {
  const sim = new SimPool(poolParams());
  t.after(() => sim.stopAll());
  for (const h of sim.names) await sim.start(h);
  const host2 = sim.services.get('host2')!.me.address;
  // host1 (the master) is told to follow host2, which still follows host1.
  await sim.ok('host1', 'pool.emergency_reset_master', { master_address: host2 });
  await until(() => sim.logged.some((l) => l['msgId'] === 'POOL_NO_MASTER'), 5_000);
  await new Promise((r) => setTimeout(r, 300)); // ten more heartbeats
  const line = sim.logged.find((l) => l['msgId'] === 'POOL_NO_MASTER')!;
  assert.equal(line['level'], 50, 'logged as an error');
  assert.match(String(line['msg']), /pool has no master/);
  assert.equal(sim.logged.filter((l) => l['msgId'] === 'POOL_NO_MASTER' && l['host'] === line['host']).length, 1, 'once per occurrence, not per heartbeat');
});

test('two concurrent master changes on one host: the guard is taken before the first await, so one is refused', async (t) => {
  const sim = new SimPool(poolParams());
  t.after(() => sim.stopAll());
  for (const h of sim.names) await sim.start(h);
  await until(async () => Object.values((await sim.ok('host1', 'host_metrics.get_all_records')) as Record<string, { live: boolean }>).every((m) => m.live));
  const run = () => sim.call('host2', 'host.local_execute', { op: 'pool.designate_new_master' });
  const answers = await Promise.all([run(), run()]);
  assert.deepEqual(answers.map((a) => a.error ?? 'ok').sort(), ['DESIGNATE_NEW_MASTER_IN_PROGRESS', 'ok'], JSON.stringify(answers));
  assert.equal(await oneMaster(sim), 'host2');
});
