import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pairProfile } from '../../sim/profiles/pair.ts';
import { poolProfile } from '../../sim/profiles/pool.ts';
import { poolHaProfile } from '../../sim/profiles/pool-ha.ts';
import type { Profile } from '../../sim/profile.ts';
import { describeViolation, runSeed } from '../../sim/run-seed.ts';

/**
 * A slice of the simulator's seed space on every `npm test` (the long runs are `npm run sim`).
 * Each seed runs a whole cluster under its own faults and checks the invariants after every step.
 */
async function seeds(profile: Profile, from: number, count: number): Promise<void> {
  const failures: string[] = [];
  let converged = 0;
  for (let seed = from; seed < from + count; seed++) {
    const r = await runSeed({ seed, profile });
    if (r.violation !== undefined) failures.push(`seed ${seed}: ${describeViolation(r.violation)} (npm run sim -- --profile ${profile.name} --seed ${seed} --trace)`);
    if (r.convergedAfterMs !== undefined) converged++;
  }
  assert.deepEqual(failures, []);
  assert.equal(converged, count, 'every seed converged after its faults');
}

test('sim pair: 1700 seeds keep every HA invariant and converge', { timeout: 600_000 }, () => seeds(pairProfile, 1, 1700));

test('sim pool: 300 seeds keep every pool invariant and converge', { timeout: 600_000 }, () => seeds(poolProfile, 1, 300));

test('sim pool-ha: 300 seeds never have two masters or a fenced host acting, and converge', { timeout: 600_000 }, () => seeds(poolHaProfile, 1, 300));
