import type { Profile } from './profile.ts';
import { runSeed, type RunResult } from './run-seed.ts';

/** The invariant a violation broke (its text up to the first detail), to keep shrinking on target. */
const kindOf = (text: string): string => text.replace(/\b(host|server|vm)\d+\b/g, '#').split(':')[0] ?? text;

/**
 * Shrinks a failing seed: leaves out one fault of its plan at a time (latest first) and keeps
 * every removal after which the same invariant still breaks. Network chance and the workload
 * come from their own streams, so they stay as they were. Bounded by `maxRuns`.
 */
export async function shrinkSeed(failing: RunResult, profile: Profile, maxRuns = 60): Promise<RunResult> {
  if (failing.violation === undefined) return failing;
  const target = kindOf(failing.violation.text);
  const drop = new Set(failing.dropped);
  let best = failing;
  let runs = 0;
  for (let i = failing.plan.length - 1; i >= 0 && runs < maxRuns; i--) {
    if (drop.has(i)) continue;
    drop.add(i);
    runs++;
    const r = await runSeed({ seed: failing.seed, profile, drop });
    if (r.violation !== undefined && kindOf(r.violation.text) === target) best = r;
    else drop.delete(i);
  }
  return best;
}
