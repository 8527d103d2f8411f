import { CommandError } from '../../../core/errors.ts';
import { bestFitDecreasing } from './binpack.ts';
import { find, get, poolEntry } from './database.ts';
import { freeMemory } from './operations.ts';
import { hostFreeMemory, planningHosts } from './planner.ts';
import type { Database, DbChange, Ref } from './records.ts';

/** host.evacuate's decisions: where each VM goes, and the records after a move. PURE. */

const mod = (cls: 'host' | 'VM' | 'host_metrics', ref: Ref, fields: Record<string, unknown>): DbChange => ({ op: 'mod', class: cls, ref, fields });

/**
 * Where every VM resident on `host` goes: biggest-fit-decreasing onto the other planning hosts. A
 * VM that fits nowhere fails the whole evacuation before anything moves; with HA enabled, an
 * unprotected one says so (HOST_EVACUATE_VM_NOT_HA_PROTECTED) instead of blaming memory.
 */
export function evacuationPlan(db: Database, liveSet: ReadonlySet<Ref>, host: Ref): Map<Ref, Ref> {
  const targets = planningHosts(db, liveSet).filter((h) => h !== host);
  const free = new Map(targets.map((h) => [h, hostFreeMemory(db, h)]));
  const vms = get(db, 'host', host).resident_VMs
    .map((ref) => ({ ref, vm: find(db, 'VM', ref) }))
    .filter((x) => x.vm !== undefined && !x.vm.is_control_domain)
    .map((x) => ({ ref: x.ref, size: x.vm?.memory_static_max ?? 0 }));
  const { placed, left } = bestFitDecreasing(free, vms);
  const first = left[0];
  if (first) {
    const vm = find(db, 'VM', first.ref);
    const protectedVm = vm?.ha_restart_priority === 'restart' && vm.ha_always_run;
    if (poolEntry(db)[1].ha_enabled && !protectedVm) throw new CommandError('HOST_EVACUATE_VM_NOT_HA_PROTECTED', [first.ref]);
    throw new CommandError('HOST_NOT_ENOUGH_FREE_MEMORY', [String(first.size), String(Math.max(0, ...free.values()))]);
  }
  return placed;
}

/** The records after a VM moved from its host to `target` (memory follows it). */
export function migrated(db: Database, vmRef: Ref, target: Ref): DbChange[] {
  const vm = get(db, 'VM', vmRef);
  const from = get(db, 'host', vm.resident_on);
  const to = get(db, 'host', target);
  if (vm.resident_on === target) return [];
  return [
    mod('VM', vmRef, { resident_on: target }),
    mod('host', vm.resident_on, { resident_VMs: from.resident_VMs.filter((v) => v !== vmRef) }),
    mod('host', target, { resident_VMs: [...to.resident_VMs, vmRef] }),
    mod('host_metrics', from.metrics, { memory_free: freeMemory(db, vm.resident_on) + vm.memory_static_max }),
    mod('host_metrics', to.metrics, { memory_free: freeMemory(db, target) - vm.memory_static_max }),
  ];
}
