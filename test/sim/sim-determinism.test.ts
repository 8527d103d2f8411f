import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pairProfile } from '../../sim/profiles/pair.ts';
import { poolProfile } from '../../sim/profiles/pool.ts';
import { poolHaProfile } from '../../sim/profiles/pool-ha.ts';
import { runSeed } from '../../sim/run-seed.ts';
import { shrinkSeed } from '../../sim/shrink.ts';
import type { Profile } from '../../sim/profile.ts';
import type { SimHost } from '../../sim/sim-host.ts';
import type { PoolService } from '../../src/hook-libs/pool/pool-service.ts';
import type { HaService } from '../../src/hook-libs/ha/ha-service.ts';

test('same seed, same run: two runs print the same verbose trace byte for byte', { timeout: 60_000 }, async () => {
  for (const [profile, seed] of [[pairProfile, 7], [poolProfile, 3], [poolProfile, 312], [poolHaProfile, 438], [poolHaProfile, 20]] as const) {
    const a = await runSeed({ seed, profile, verbose: true });
    const b = await runSeed({ seed, profile, verbose: true });
    assert.ok(a.trace.length > 50, `${profile.name} seed ${seed} traced something`);
    assert.equal(a.trace.join('\n'), b.trace.join('\n'), `${profile.name} seed ${seed}`);
    const c = await runSeed({ seed: seed + 1, profile, verbose: true });
    assert.notEqual(a.trace.join('\n'), c.trace.join('\n'), 'another seed, another run');
  }
});

/** A profile whose operator does something the invariants must catch, at 20 s (after start-up). */
function sabotaged(base: Profile, act: (hosts: readonly SimHost<unknown>[]) => void): Profile {
  return {
    name: `${base.name}-sabotaged`,
    build(ctx) {
      const run = base.build(ctx);
      return { ...run, startWorkload: () => void ctx.world.schedule(20_000, 'sabotage', () => act(run.hosts)) };
    },
  };
}

test('the pool checker sees two acting masters (an operator forcing emergency_transition_to_master on a slave)', { timeout: 60_000 }, async () => {
  const profile = sabotaged(poolProfile, (hosts) => void (hosts[1] as SimHost<PoolService>).request('pool.emergency_transition_to_master', {}));
  const r = await runSeed({ seed: 1, profile });
  assert.match(r.violation?.text ?? '', /two acting masters: host1, host2/);
});

test('the pair checker sees a scope served twice outside partner-down (ha-scopes forcing both scopes)', { timeout: 60_000 }, async () => {
  // Seed 3 draws a load-balancing pair; the sabotage makes server1 serve server2's scope too.
  const profile = sabotaged(pairProfile, (hosts) => void (hosts[0] as SimHost<HaService>).request('ha-scopes', { scopes: ['server1', 'server2'] }));
  const r = await runSeed({ seed: 3, profile });
  assert.match(r.variant, /^load-balancing/);
  assert.match(r.violation?.text ?? '', /scope server2 served by server1 \(load-balancing\) and server2/);
  const small = await shrinkSeed(r, profile);
  assert.ok(small.violation !== undefined, 'shrinking keeps the failure');
  assert.ok(small.dropped.length <= small.plan.length);
});

test('the pool-ha checker sees two hosts acting as master (a host forced to believe it holds the lock)', { timeout: 60_000 }, async () => {
  const profile = sabotaged(poolHaProfile, (hosts) => {
    // A live host other than the master is made to believe it holds the lock, confirmed now.
    type Node = { st: { holder: string | null; confirmedAt: number; mode: string }; acting(): boolean };
    const other = hosts.find((h) => h.up && (h.service as Node).st.mode === 'online' && !(h.service as Node).acting());
    const node = other?.service as Node | undefined;
    if (node && other) node.st = { ...node.st, holder: other.name, confirmedAt: 20_000 };
  });
  const r = await runSeed({ seed: 1, profile });
  assert.match(r.violation?.text ?? '', /two hosts acting as master: host\d, host\d/);
  const small = await shrinkSeed(r, profile);
  assert.match(small.violation?.text ?? '', /two hosts acting as master/, 'shrinking keeps the failure');
});
