import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  chooseHeuristic, planAlwaysPossible, planApproximatelyPossible, planExists, type PackConfig,
} from '../../../src/hook-libs/pool/model/binpack.ts';

/**
 * The planner's heuristics against a brute force written here from the definition alone (spec §5.3):
 * try every sequence of r distinct failing hosts; after each failure put the dead host's VMs, biggest
 * first, each on the survivor with the most free memory (earliest host on ties); any VM that fits
 * nowhere means no plan.
 */

interface World {
  free: number[];
  sizes: number[];
  /** host index per VM */
  at: number[];
}

function bruteForce(w: World, r: number): boolean {
  const n = w.free.length;
  if (n < r || (n === r && w.sizes.length > 0)) return false;
  const walk = (free: (number | null)[], at: number[], depth: number): boolean => {
    if (depth === r) return true;
    for (let dead = 0; dead < n; dead++) {
      if (free[dead] === null) continue;
      const f = [...free];
      f[dead] = null;
      const a = [...at];
      const moving = a.map((h, vm) => ({ h, vm })).filter((x) => x.h === dead).map((x) => x.vm);
      // stable sort by size descending keeps VM index order on ties, as the caller's order
      moving.sort((x, y) => (w.sizes[y] as number) - (w.sizes[x] as number) || x - y);
      for (const vm of moving) {
        let best = -1;
        for (let h = 0; h < n; h++) if (f[h] !== null && (best < 0 || (f[h] as number) > (f[best] as number))) best = h;
        if (best < 0 || (w.sizes[vm] as number) > (f[best] as number)) return false;
        f[best] = (f[best] as number) - (w.sizes[vm] as number);
        a[vm] = best;
      }
      if (!walk(f, a, depth + 1)) return false;
    }
    return true;
  };
  return walk([...w.free], [...w.at], 0);
}

function toConfig(w: World, r: number): PackConfig {
  return {
    hosts: w.free.map((free, i) => ({ ref: `h${String(i).padStart(2, '0')}`, free })),
    vms: w.sizes.map((size, i) => ({ ref: `v${String(i).padStart(2, '0')}`, size })),
    placement: new Map(w.at.map((h, i) => [`v${String(i).padStart(2, '0')}`, `h${String(h).padStart(2, '0')}`])),
    failures: r,
    totalHosts: w.free.length,
  };
}

/** Small random pools: up to 8 hosts, 20 VMs; host free memory after its VMs, sizes in small units. */
const world = fc.integer({ min: 1, max: 8 }).chain((hosts) =>
  fc.record({
    free: fc.array(fc.integer({ min: 0, max: 40 }), { minLength: hosts, maxLength: hosts }),
    vms: fc.array(fc.record({ size: fc.integer({ min: 1, max: 16 }), host: fc.integer({ min: 0, max: hosts - 1 }) }), { maxLength: 20 }),
  }).map(({ free, vms }): World => ({ free, sizes: vms.map((v) => v.size), at: vms.map((v) => v.host) })));

const failures = fc.integer({ min: 0, max: 3 });
const RUNS = 3000;

test('exhaustive planner agrees with the brute force', { timeout: 120_000 }, () => {
  const seen = { yes: 0, no: 0 };
  fc.assert(fc.property(world, failures, (w, r) => {
    const expected = bruteForce(w, r);
    seen[expected ? 'yes' : 'no']++;
    return planAlwaysPossible(toConfig(w, r)) === expected;
  }), { numRuns: RUNS, seed: 1302 });
  // The generator must reach both answers often, or agreement proves little.
  assert.ok(seen.yes > RUNS / 10 && seen.no > RUNS / 10, JSON.stringify(seen));
});

/**
 * More shapes of pool for the exhaustive search, which takes shortcuts the brute force does not: the
 * last failure of an order skips the VMs an averaging bound says must fit (only with whole, exactly
 * summable sizes), and VMs are ranked once by size. Each shape must reach both answers.
 */
interface Shape {
  readonly hosts: number;
  readonly vms: number;
  readonly free: readonly [number, number];
  /** Sizes are drawn from these. */
  readonly sizes: readonly number[];
  /** Every size and free amount is multiplied by this. */
  readonly scale: number;
  readonly runs: number;
}

const shapes: Record<string, Shape> = {
  // Lots of room: most last failures are settled by the bound, some packings still fail.
  roomy: { hosts: 8, vms: 20, free: [0, 160], sizes: [1, 2, 3, 5, 8, 13, 16], scale: 1, runs: 1500 },
  // Few distinct sizes and free amounts: many ties between VMs and between hosts.
  ties: { hosts: 8, vms: 20, free: [0, 6], sizes: [4, 8], scale: 4, runs: 1500 },
  // Overcommitted hosts (negative free memory) beside roomy ones.
  overcommitted: { hosts: 8, vms: 20, free: [-20, 60], sizes: [1, 4, 9, 16], scale: 1, runs: 1500 },
  // Tenths: not whole and not exact in binary, sums round, so the bound is not used and every VM is packed.
  fractional: { hosts: 4, vms: 12, free: [0, 30], sizes: [1, 2, 3, 7], scale: 0.1, runs: 3000 },
  // Whole but so large (around 2^52) that sums round: the bound is not used either.
  huge: { hosts: 4, vms: 12, free: [0, 30], sizes: [1, 2, 3, 7], scale: 2 ** 48 + 1, runs: 3000 },
  // Bigger pools: deeper host lists, longer merges of moved VMs.
  larger: { hosts: 12, vms: 60, free: [0, 80], sizes: [1, 2, 3, 4, 6, 8], scale: 1, runs: 200 },
};

function shaped(s: Shape): fc.Arbitrary<World> {
  return fc.integer({ min: 1, max: s.hosts }).chain((hosts) =>
    fc.record({
      free: fc.array(fc.integer({ min: s.free[0], max: s.free[1] }), { minLength: hosts, maxLength: hosts }),
      vms: fc.array(fc.record({ size: fc.constantFrom(...s.sizes), host: fc.integer({ min: 0, max: hosts - 1 }) }), { maxLength: s.vms }),
    }).map(({ free, vms }): World => ({ free: free.map((f) => f * s.scale), sizes: vms.map((v) => v.size * s.scale), at: vms.map((v) => v.host) })));
}

for (const [name, shape] of Object.entries(shapes)) {
  test(`exhaustive planner agrees with the brute force: ${name} pools`, { timeout: 120_000 }, () => {
    const seen = { yes: 0, no: 0 };
    fc.assert(fc.property(shaped(shape), fc.integer({ min: 1, max: 3 }), (w, r) => {
      const expected = bruteForce(w, r);
      seen[expected ? 'yes' : 'no']++;
      return planAlwaysPossible(toConfig(w, r)) === expected;
    }), { numRuns: shape.runs, seed: 1310 });
    assert.ok(seen.yes > shape.runs / 10 && seen.no > shape.runs / 10, JSON.stringify(seen));
  });
}

test('sizes whose sum rounds, or negative sizes, are packed, not settled by the bound', () => {
  // 2^52 + 1 and 2^52 on the failing host, 2^53 free on the other: their sum rounds down to 2^53, so
  // the bound would say "fits"; packed, the second finds 2^52 − 1.
  const w: World = { free: [2 ** 53, 0], sizes: [2 ** 52 + 1, 2 ** 52], at: [1, 1] };
  assert.equal(bruteForce(w, 1), false);
  assert.equal(planAlwaysPossible(toConfig(w, 1)), false);
  // A negative size (no real VM has one) breaks the bound's premise that what comes first is at most S − s.
  const negative: World = { free: [0, 0], sizes: [5, -5], at: [1, 1] };
  assert.equal(bruteForce(negative, 1), false);
  assert.equal(planAlwaysPossible(toConfig(negative, 1)), false);
});

test('the approximate bound is never more optimistic than the brute force', { timeout: 120_000 }, () => {
  let optimistic = 0;
  fc.assert(fc.property(world, failures, (w, r) => {
    if (!planApproximatelyPossible(toConfig(w, r))) return true;
    optimistic++;
    return bruteForce(w, r);
  }), { numRuns: RUNS, seed: 1303 });
  assert.ok(optimistic > RUNS / 10, `the approximate bound said yes only ${optimistic} times`);
});

test('max failures to tolerate by bisection matches a linear scan of the brute force', { timeout: 120_000 }, () => {
  fc.assert(fc.property(world, (w) => {
    const n = w.free.length;
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (planExists(toConfig(w, mid)).exists) lo = mid;
      else hi = mid - 1;
    }
    let linear = 0;
    while (linear < n && bruteForce(w, linear + 1)) linear++;
    // For r ≤ 3 on ≤ 8 hosts xapi's choice is always exhaustive, so bisection must equal brute force there;
    // beyond, the approximate bound may only be lower.
    if (lo <= 3 && linear <= 3) return lo === linear;
    return lo <= linear && lo >= Math.min(linear, 3);
  }), { numRuns: 1000, seed: 1304 });
});

test('same pool, same answer: the planner is a pure function of its inputs', () => {
  fc.assert(fc.property(world, failures, (w, r) => {
    const a = planExists(toConfig(w, r));
    const b = planExists(toConfig(structuredClone(w), r));
    return a.exists === b.exists && a.heuristic === b.heuristic;
  }), { numRuns: 500, seed: 1305 });
});

test("xapi's rule chooses the heuristic: n > 32 or C(n,r)·r! ≥ 3500 → approximate", () => {
  assert.equal(chooseHeuristic(16, 3), 'exhaustive'); // 3360
  assert.equal(chooseHeuristic(16, 4), 'approximate'); // 43680
  assert.equal(chooseHeuristic(32, 2), 'exhaustive'); // 992
  assert.equal(chooseHeuristic(33, 1), 'approximate');
  assert.equal(chooseHeuristic(8, 3), 'exhaustive');
  assert.equal(chooseHeuristic(64, 3), 'approximate');
  assert.equal(chooseHeuristic(10, 0), 'exhaustive');
});

test("the choice counts every host in the pool, live or not (xapi's total_hosts), not only the planning hosts", () => {
  const live16 = (totalHosts: number): PackConfig => ({
    ...toConfig({ free: Array.from({ length: 16 }, () => 16), sizes: [8], at: [0] }, 3), totalHosts,
  });
  assert.equal(planExists(live16(16)).heuristic, 'exhaustive'); // 16·15·14 = 3360
  assert.equal(planExists(live16(17)).heuristic, 'approximate'); // 17·16·15 = 4080, though only 16 are live
  const threeOf33 = { ...toConfig({ free: [16, 16, 16], sizes: [8], at: [0] }, 1), totalHosts: 33 };
  assert.equal(planExists(threeOf33).heuristic, 'approximate'); // n > 32
});

test('the answer says which heuristic ran', () => {
  const small = toConfig({ free: [8, 8, 8], sizes: [4, 4], at: [0, 1] }, 1);
  assert.deepEqual(planExists(small), { exists: true, heuristic: 'exhaustive' });
  const none = toConfig({ free: [8, 8], sizes: [], at: [] }, 1);
  assert.deepEqual(planExists(none), { exists: true, heuristic: 'none' });
  const trivial = toConfig({ free: [8, 8], sizes: [1], at: [0] }, 2);
  assert.deepEqual(planExists(trivial), { exists: false, heuristic: 'trivial' });
  const big: PackConfig = {
    hosts: Array.from({ length: 40 }, (_, i) => ({ ref: `h${String(i).padStart(2, '0')}`, free: 16 })),
    vms: [{ ref: 'v0', size: 8 }], placement: new Map([['v0', 'h00']]), failures: 2, totalHosts: 40,
  };
  assert.deepEqual(planExists(big), { exists: true, heuristic: 'approximate' });
});
