import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimPool, poolParams } from './sim-pool.ts';
import type { LogStore } from '../../../src/store/log-store.ts';
import { memoryStoreFactory } from '../../../src/store/memory-store.ts';

/** The master's database store, to count its fsyncs (the service keeps it private). */
const dbStoreOf = (sim: SimPool, name: string): LogStore => (sim.services.get(name) as unknown as { dbStore: LogStore }).dbStore;

test('concurrent writes share fsyncs, each answered only once durable; a crash right after loses none', async (t) => {
  const sim = new SimPool(poolParams());
  t.after(() => sim.stopAll());
  for (const n of sim.names) await sim.start(n);
  const store = dbStoreOf(sim, 'host1');
  const syncsBefore = store.syncCount;
  const made = (await Promise.all(
    Array.from({ length: 40 }, (_, i) => sim.ok('host1', 'VM.create', { args: { name_label: `batch${i}`, memory_static_max: 1 } })),
  )) as string[];
  assert.equal(new Set(made).size, 40);
  const syncs = store.syncCount - syncsBefore;
  assert.ok(syncs < 40, `40 writes took ${syncs} fsyncs: they should share them`);
  // A refused transaction in the middle of a batch changes nothing and does not disturb the others.
  const [good, bad] = await Promise.all([
    sim.call('host1', 'VM.create', { args: { name_label: 'fine', memory_static_max: 1 } }),
    sim.call('host1', 'VM.set_order', { self: 'OpaqueRef:nope', value: 1 }),
  ]);
  assert.equal(good.result, 0);
  assert.equal(bad.error, 'HANDLE_INVALID');
  sim.kill('host1');
  await sim.start('host1');
  const vms = (await sim.ok('host1', 'VM.get_all')) as string[];
  for (const v of [...made, good.arguments as string]) assert.ok(vms.includes(v), `${v} acknowledged but lost`);
});

test('a snapshot that throws still answers every transaction of its batch', async (t) => {
  const sim = new SimPool(poolParams());
  t.after(() => sim.stopAll());
  const disk = memoryStoreFactory();
  sim.stores.set('host1', {
    ...disk,
    async open(name) {
      const store = await disk.open(name);
      if (name === 'pool-db') store.writeSnapshot = () => Promise.reject(new Error('disk full'));
      return store;
    },
  });
  for (const n of sim.names) await sim.start(n);
  // Enough writes to cross the snapshot threshold (2,000 redo records) within one run.
  const calls = Array.from({ length: 2_100 }, (_, i) => sim.call('host1', 'VM.create', { args: { name_label: `vm${i}`, memory_static_max: 1 } }));
  let timer: NodeJS.Timeout | undefined;
  const answers = await Promise.race([
    Promise.all(calls),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('some writes were never answered')), 30_000))),
  ]).finally(() => clearTimeout(timer));
  assert.equal(answers.length, 2_100);
  const ok = answers.filter((a) => a.result === 0).length;
  assert.ok(ok > 0, 'the writes before the snapshot were acknowledged');
  for (const a of answers) assert.ok(a.result === 0 || typeof a.text === 'string', `every answer is a success or an error: ${JSON.stringify(a)}`);
});
