import type { LinkQuality } from './network.ts';
import type { Prng } from './prng.ts';

/** One scheduled fault. The plan of a seed is a list of these; shrinking removes entries. */
export type Fault =
  | { readonly at: number; readonly kind: 'crash'; readonly host: string; readonly tear: boolean; readonly midWrite: boolean }
  | { readonly at: number; readonly kind: 'restart'; readonly host: string }
  | { readonly at: number; readonly kind: 'partition'; readonly side: readonly string[] }
  | { readonly at: number; readonly kind: 'one-way'; readonly from: string; readonly to: string }
  | { readonly at: number; readonly kind: 'heal' }
  | { readonly at: number; readonly kind: 'weather'; readonly quality: LinkQuality }
  | { readonly at: number; readonly kind: 'skew'; readonly host: string; readonly ms: number }
  /** Host-level faults (drawn only for profiles that model them, e.g. pool-ha): */
  | { readonly at: number; readonly kind: 'storage-cut'; readonly host: string }
  | { readonly at: number; readonly kind: 'storage-heal'; readonly host: string }
  | { readonly at: number; readonly kind: 'freeze'; readonly host: string; readonly ms: number };

export function describeFault(f: Fault): string {
  switch (f.kind) {
    case 'crash':
      return `crash ${f.host}${f.midWrite ? ' during its next store write' : ''}${f.tear ? ' (torn tail)' : ''}`;
    case 'restart':
      return `restart ${f.host}`;
    case 'partition':
      return `partition {${f.side.join(',')}} from the rest`;
    case 'one-way':
      return `cut ${f.from} -> ${f.to} (one way)`;
    case 'heal':
      return 'heal every cut';
    case 'weather': {
      const q = f.quality;
      return `network: drop ${(q.dropRate * 100).toFixed(0)}% duplicate ${(q.duplicateRate * 100).toFixed(0)}% delay ${q.minDelayMs}-${q.maxDelayMs} ms`;
    }
    case 'skew':
      return `clock of ${f.host} skewed ${f.ms} ms`;
    case 'storage-cut':
      return `${f.host} loses the shared storage (statefile)`;
    case 'storage-heal':
      return `${f.host} regains the shared storage (statefile)`;
    case 'freeze':
      return `freeze ${f.host} for ${f.ms} ms (SIGSTOP)`;
  }
}

export interface PlanLimits {
  readonly phaseMs: number;
  /** Largest one-way delay the weather may bring (keep well below the protocols' timeouts). */
  readonly maxDelayMs: number;
  /** Largest clock skew (keep well below the timeouts whose safety assumes bounded skew). */
  readonly maxSkewMs: number;
  /**
   * Longest freeze; when set, the plan also cuts hosts off the shared storage and freezes hosts.
   * (Unset, the draws are exactly those of the profiles that do not model these faults.)
   */
  readonly maxFreezeMs?: number;
}

/** Draws a seed's fault plan: a handful of faults at random times, in time order. */
export function drawPlan(prng: Prng, hosts: readonly string[], limits: PlanLimits): Fault[] {
  const count = prng.int(1, 8);
  const plan: Fault[] = [];
  for (let i = 0; i < count; i++) {
    const at = prng.int(0, limits.phaseMs);
    const host = prng.pick(hosts);
    const roll = prng.int(0, 99);
    if (limits.maxFreezeMs !== undefined && roll >= 70) {
      // Host faults take the place of some weather and skew: storage cuts and freezes.
      if (roll < 85) {
        plan.push({ at, kind: 'storage-cut', host });
        if (prng.chance(0.7)) plan.push({ at: Math.min(limits.phaseMs, at + prng.int(100, limits.phaseMs / 2)), kind: 'storage-heal', host });
      } else plan.push({ at, kind: 'freeze', host, ms: prng.int(50, limits.maxFreezeMs) });
    } else if (roll < 30) {
      plan.push({ at, kind: 'crash', host, tear: prng.chance(0.5), midWrite: prng.chance(0.5) });
      if (prng.chance(0.7)) plan.push({ at: Math.min(limits.phaseMs, at + prng.int(100, limits.phaseMs / 2)), kind: 'restart', host });
    } else if (roll < 50) {
      const side = hosts.filter(() => prng.chance(0.5));
      if (side.length > 0 && side.length < hosts.length) plan.push({ at, kind: 'partition', side });
      if (prng.chance(0.6)) plan.push({ at: Math.min(limits.phaseMs, at + prng.int(100, limits.phaseMs / 2)), kind: 'heal' });
    } else if (roll < 60) {
      const to = prng.pick(hosts.filter((h) => h !== host));
      plan.push({ at, kind: 'one-way', from: host, to });
    } else if (roll < 85) {
      const maxDelay = prng.int(5, limits.maxDelayMs);
      plan.push({
        at, kind: 'weather',
        quality: { dropRate: prng.pick([0, 0.05, 0.2, 0.5]), duplicateRate: prng.pick([0, 0.1, 0.3]), minDelayMs: 1, maxDelayMs: maxDelay },
      });
    } else {
      plan.push({ at, kind: 'skew', host, ms: prng.int(-limits.maxSkewMs, limits.maxSkewMs) });
    }
  }
  return plan.sort((a, b) => a.at - b.at);
}
