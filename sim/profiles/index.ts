import type { Profile } from '../profile.ts';
import { pairProfile } from './pair.ts';
import { poolProfile } from './pool.ts';
import { poolHaProfile } from './pool-ha.ts';

/** Every profile `npm run sim` knows, by name; `all` runs them in this order. */
export const PROFILES: readonly Profile[] = [pairProfile, poolProfile, poolHaProfile];

export function profileByName(name: string): Profile[] {
  if (name === 'all') return [...PROFILES];
  const p = PROFILES.find((x) => x.name === name);
  if (p === undefined) throw new Error(`unknown profile '${name}': use ${[...PROFILES.map((x) => x.name), 'all'].join(', ')}`);
  return [p];
}
