import { bestFitDecreasing } from './binpack.ts';
import { entries, find } from './database.ts';
import { freeMemory } from './operations.ts';
import { hostFreeMemory, isProtected, planningHosts } from './planner.ts';
import type { Database, DbChange, Ref } from './records.ts';
import { NULL_REF } from './records.ts';

/**
 * What the master does when hosts leave the liveset (spec/xapi-ha.md §5.6), as pure decisions: which
 * hosts are declared dead and which VMs are reset to Halted, where protected VMs go, in which order
 * groups, and which best-effort VMs to try. The shell (ha-restarts.ts) runs the starts and callouts.
 */

/** Seconds within which a VM is not attempted again (xapi's re-attempt window). */
export const REATTEMPT_WINDOW_MS = 120_000;
/** Failed attempts after which a best-effort VM is no longer tried. */
export const BEST_EFFORT_MAX_RETRIES = 2;

export interface DeclareDead {
  /** Hosts that were live and are not in the liveset, with the VMs that ran on them. */
  readonly failed: readonly { readonly host: Ref; readonly name: string; readonly vms: readonly Ref[] }[];
  /** live ← false for those hosts, every one of their VMs reset to Halted. */
  readonly changes: DbChange[];
  readonly resetVms: readonly Ref[];
}

/** Steps 1–2: hosts outside the liveset become not live and their VMs Halted (ha_always_run kept). */
export function declareDead(db: Database, liveSet: ReadonlySet<Ref>): DeclareDead {
  const changes: DbChange[] = [];
  const failed: { host: Ref; name: string; vms: Ref[] }[] = [];
  const resetVms: Ref[] = [];
  for (const [ref, host] of entries(db, 'host')) {
    if (liveSet.has(ref)) continue;
    const metrics = find(db, 'host_metrics', host.metrics);
    const vms = host.resident_VMs.filter((v) => {
      const vm = find(db, 'VM', v);
      return vm !== undefined && !vm.is_control_domain;
    });
    if (metrics?.live !== true && vms.length === 0) continue;
    failed.push({ host: ref, name: host.name_label, vms });
    if (metrics?.live === true) changes.push({ op: 'mod', class: 'host_metrics', ref: host.metrics, fields: { live: false } });
    // Every VM resident on a dead host is reset, whatever power state the database last recorded.
    for (const v of vms) {
      changes.push({ op: 'mod', class: 'VM', ref: v, fields: { power_state: 'Halted', resident_on: NULL_REF } });
      resetVms.push(v);
    }
    if (vms.length > 0) {
      changes.push({ op: 'mod', class: 'host', ref, fields: { resident_VMs: host.resident_VMs.filter((v) => !vms.includes(v)) } });
      if (metrics) changes.push({ op: 'mod', class: 'host_metrics', ref: host.metrics, fields: { memory_free: metrics.memory_total } });
    }
  }
  return { failed, changes, resetVms };
}

/** Halted protected VMs, the ones a restart pass must start. */
export function haltedProtected(db: Database): Ref[] {
  return entries(db, 'VM').filter(([ref, vm]) => !vm.is_control_domain && vm.power_state === 'Halted' && isProtected(vm, ref)).map(([ref]) => ref);
}

export interface RestartPlan {
  /** VM → host for every halted protected VM, when all of them fit. */
  readonly placement: ReadonlyMap<Ref, Ref>;
  /** False when some protected VM fits nowhere: then every halted protected VM is started anywhere. */
  readonly complete: boolean;
}

/** Step 4: biggest-fit-decreasing of the halted protected VMs onto the planning hosts. */
export function restartPlan(db: Database, liveSet: ReadonlySet<Ref>): RestartPlan {
  const hosts = planningHosts(db, liveSet);
  const free = new Map(hosts.map((h) => [h, hostFreeMemory(db, h)]));
  const items = haltedProtected(db).map((ref) => ({ ref, size: find(db, 'VM', ref)?.memory_static_max ?? 0 }));
  const { placed, left } = bestFitDecreasing(free, items);
  return { placement: placed, complete: left.length === 0 };
}

/** Order groups: ascending `order`, a negative order counting as last; VMs by ref inside a group. */
export function orderGroups(db: Database, vms: readonly Ref[]): Ref[][] {
  const key = (v: Ref) => {
    const o = find(db, 'VM', v)?.order ?? 0;
    return o < 0 ? Number.POSITIVE_INFINITY : o;
  };
  const groups = new Map<number, Ref[]>();
  for (const v of [...vms].sort()) {
    const k = key(v);
    groups.set(k, [...(groups.get(k) ?? []), v]);
  }
  return [...groups.entries()].sort(([a], [b]) => a - b).map(([, g]) => g);
}

/** Where a VM.start without a host goes: the planning host with the most free memory that fits it. */
export function anyHostFor(db: Database, liveSet: ReadonlySet<Ref>, vmRef: Ref): Ref | undefined {
  const vm = find(db, 'VM', vmRef);
  if (!vm) return undefined;
  let best: { h: Ref; free: number } | undefined;
  for (const h of planningHosts(db, liveSet)) {
    const free = freeMemory(db, h);
    if (free >= vm.memory_static_max && (!best || free > best.free)) best = { h, free };
  }
  return best?.h;
}

export interface BestEffortInput {
  readonly allProtectedRestarted: boolean;
  readonly livesetGrew: boolean;
  readonly livesetUnchanged: boolean;
  /** Best-effort VMs reset to Halted by this pass. */
  readonly newlyReset: readonly Ref[];
  /** Best-effort VMs that failed before, with their failure counts. */
  readonly failedBefore: ReadonlyMap<Ref, number>;
}

/** Step 8: which halted best-effort VMs to try now (each at most BEST_EFFORT_MAX_RETRIES failures). */
export function bestEffortToTry(db: Database, input: BestEffortInput): Ref[] {
  const halted = (v: Ref) => {
    const vm = find(db, 'VM', v);
    return vm !== undefined && vm.power_state === 'Halted' && vm.ha_restart_priority === 'best-effort';
  };
  let pick: Ref[];
  if (input.allProtectedRestarted && input.livesetGrew) {
    pick = entries(db, 'VM').map(([r]) => r).filter(halted);
  } else if (input.allProtectedRestarted && input.livesetUnchanged) {
    pick = [...new Set([...input.failedBefore.keys(), ...input.newlyReset])].filter(halted);
  } else {
    pick = input.newlyReset.filter(halted);
  }
  return pick.filter((v) => (input.failedBefore.get(v) ?? 0) < BEST_EFFORT_MAX_RETRIES).sort();
}
