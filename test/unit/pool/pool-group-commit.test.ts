import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimPool, poolParams } from './sim-pool.ts';
import type { LogStore } from '../../../src/store/log-store.ts';

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
