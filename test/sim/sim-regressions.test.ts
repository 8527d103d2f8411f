import { test } from 'node:test';
import assert from 'node:assert/strict';
import { poolProfile } from '../../sim/profiles/pool.ts';
import { poolHaProfile } from '../../sim/profiles/pool-ha.ts';
import type { Profile } from '../../sim/profile.ts';
import { describeViolation, runSeed } from '../../sim/run-seed.ts';

/**
 * Seeds on which the simulator found a bug, each run again after its fix. (The seeds reproduce
 * the original scenario only while the fault plan and workload generators stay as they are.)
 */
async function passes(seed: number, profile: Profile): Promise<void> {
  const r = await runSeed({ seed, profile });
  assert.equal(r.violation === undefined ? undefined : describeViolation(r.violation), undefined);
}

/** Profile, seeds, and what each run checks (the test's name). */
const REGRESSIONS: readonly (readonly [Profile, readonly number[], string])[] = [
  [poolProfile, [312], 'pool seed 312: a lost commit answer no longer voids the decision (no two slaves following each other)'],
  [poolProfile, [398], 'pool seed 398: a failed follow of a HOST_IS_SLAVE redirect is logged, not an unhandled rejection'],
  [poolHaProfile, [438, 158], 'pool-ha seeds 438 and 158: a booting host whose first statefile reads hung no longer forms a liveset alone and takes the lock beside the master'],
  [poolHaProfile, [1309], 'pool-ha seed 1309: a booting host that hears a host online (holding a liveset on survival rule 2, its slot stale) waits to be admitted instead of forming alone'],
  [poolHaProfile, [718], 'pool-ha seed 718: a host that has just boot-joined does not drop live members it has not heard yet (a master off the statefile) and take the lock'],
  [poolHaProfile, [520], 'pool-ha seed 520: a host that loses the statefile while a fenced peer (not excluded) is outside its liveset fences instead of holding on to survival rule 2 beside the rebooted peer'],
  [poolHaProfile, [5753], 'pool-ha seed 5753: a host on survival rule 2 does not count on a member that still says it is joining (it formed a liveset of its own)'],
  [poolHaProfile, [4008, 4679], 'pool-ha seeds 4008 and 4679: after every host restarted without the old master, a slave contends for the lock after T without a holder (no masterless pool)'],
  [poolHaProfile, [10372], 'pool-ha seed 10372: that slave contends only as the lowest host of a settled liveset, never beside a rebooted master it has not admitted (two holders from abstaining stale grants)'],
  [poolHaProfile, [11216], 'pool-ha seed 11216: a host whose statefile I/O failed once as the storage came back (rule 2 not holding with a host outside the liveset) waits out its lease instead of fencing at once'],
  [poolHaProfile, [16823], 'pool-ha seed 16823 (the bound, not the pool): an enable join begun during the faults runs out its enable join timeout after them, and a host that joined beside it fences on its stale slot and reboots; the convergence bound of a pool started by enable counts that time'],
];

for (const [profile, seeds, what] of REGRESSIONS) {
  test(what, { timeout: 60_000 }, async () => {
    for (const seed of seeds) await passes(seed, profile);
  });
}
