import { CommandError } from '../../../core/errors.ts';
import { bestFitDecreasing, planExists, type Heuristic, type PackConfig, type PackVm } from './binpack.ts';
import { entries, find, poolEntry } from './database.ts';
import type { Database, Ref, RestartPriority, VMRecord } from './records.ts';

/**
 * The failover planner (spec/xapi-ha.md §5.2–5.5): turns the pool database, the liveset and a
 * hypothetical change into a bin-packing problem and answers whether protected VMs can be restarted
 * after r host failures. PURE: a function of its inputs; same pool, same answer.
 *
 * Every VM is agile here (the model has no VBDs, VIFs or passed-through devices that could pin one to
 * a host), so `Plan_exists_excluding_non_agile_VMs` is part of the vocabulary but never the answer.
 */

export type PlanStatus = 'Plan_exists_for_all_VMs' | 'Plan_exists_excluding_non_agile_VMs' | 'No_plan_exists';

/** A change the planner must assume has happened (admission control asks "and after this?"). */
export interface PlanChange {
  readonly hostsToDisable?: readonly Ref[];
  /** VMs that become protected (a start of a `restart` VM, or its priority set to `restart`). */
  readonly vmsToProtect?: readonly Ref[];
  /** VMs about to run on a host: their memory is taken there (VM.start, start_on). */
  readonly vmsArriving?: ReadonlyMap<Ref, Ref>;
  /** A hypothetical configuration: exactly the VMs mapped to `restart` are protected. */
  readonly hypothetical?: ReadonlyMap<Ref, RestartPriority>;
}

export interface PlanAnswer {
  readonly status: PlanStatus;
  readonly heuristic: Heuristic;
}

const RUNNING = new Set(['Running', 'Paused']);

/** "Protected" ⇔ ha_always_run ∧ priority `restart` (xapi helpers), or made so by the change. */
export function isProtected(vm: VMRecord, ref: Ref, change: PlanChange = {}): boolean {
  if (change.hypothetical) return change.hypothetical.get(ref) === 'restart';
  if (vm.ha_restart_priority !== 'restart') return false;
  return vm.ha_always_run || (change.vmsToProtect?.includes(ref) ?? false);
}

export function protectedVms(db: Database, change: PlanChange = {}): Ref[] {
  return entries(db, 'VM').filter(([ref, vm]) => !vm.is_control_domain && isProtected(vm, ref, change)).map(([ref]) => ref);
}

/** Hosts the plan may use: enabled, live, in the liveset, not about to be disabled; in UUID order. */
export function planningHosts(db: Database, liveSet: ReadonlySet<Ref>, change: PlanChange = {}): Ref[] {
  return entries(db, 'host')
    .filter(([ref, h]) => h.enabled && find(db, 'host_metrics', h.metrics)?.live === true && liveSet.has(ref))
    .filter(([ref]) => !(change.hostsToDisable?.includes(ref) ?? false))
    .map(([ref]) => ref);
}

/** Static-max policy: total minus every resident VM's static-max (a control domain's dynamic-max). */
export function hostFreeMemory(db: Database, hostRef: Ref, change: PlanChange = {}): number {
  const host = find(db, 'host', hostRef);
  if (!host) return 0;
  let free = find(db, 'host_metrics', host.metrics)?.memory_total ?? 0;
  for (const v of host.resident_VMs) {
    const vm = find(db, 'VM', v);
    if (vm) free -= vm.is_control_domain ? vm.memory_dynamic_max : vm.memory_static_max;
  }
  for (const [v, h] of change.vmsArriving ?? []) {
    const vm = find(db, 'VM', v);
    if (h === hostRef && vm && vm.resident_on !== hostRef) free -= vm.memory_static_max;
  }
  return free;
}

export const vmSize = (vm: VMRecord): number => vm.memory_static_max;

export interface PlanningProblem {
  /** The bin-packing problem for r failures, or why there cannot be one. */
  readonly config: PackConfig;
  /** Protected VMs that could not even be placed now: any means no plan at all. */
  readonly unplaceable: readonly Ref[];
}

/**
 * Builds the problem: running protected VMs stay where they are; protected VMs that are not running
 * on a planning host (halted, or on a host that left) are first placed biggest-fit-decreasing.
 */
export function planningProblem(db: Database, liveSet: ReadonlySet<Ref>, failures: number, change: PlanChange = {}): PlanningProblem {
  const hosts = planningHosts(db, liveSet, change);
  const hostSet = new Set(hosts);
  const free = new Map(hosts.map((h) => [h, hostFreeMemory(db, h, change)]));
  const placement = new Map<string, string>();
  const vms: PackVm[] = [];
  const offline: PackVm[] = [];
  for (const ref of protectedVms(db, change)) {
    const vm = find(db, 'VM', ref);
    if (!vm) continue;
    const item = { ref, size: vmSize(vm) };
    vms.push(item);
    const arriving = change.vmsArriving?.get(ref);
    if (arriving !== undefined && hostSet.has(arriving)) placement.set(ref, arriving);
    else if (RUNNING.has(vm.power_state) && hostSet.has(vm.resident_on)) placement.set(ref, vm.resident_on);
    else offline.push(item);
  }
  const { placed, left } = bestFitDecreasing(free, offline);
  for (const [vm, h] of placed) placement.set(vm, h);
  const leftOut = new Set(left.map((v) => v.ref));
  return {
    config: {
      hosts: hosts.map((ref) => ({ ref, free: free.get(ref) ?? 0 })), vms: vms.filter((v) => !leftOut.has(v.ref)), placement, failures,
      totalHosts: entries(db, 'host').length,
    },
    unplaceable: left.map((v) => v.ref),
  };
}

/** `plan_for_n_failures`: can every protected VM be restarted after any n host failures? */
export function planForFailures(db: Database, liveSet: ReadonlySet<Ref>, n: number, change: PlanChange = {}): PlanAnswer {
  if (protectedVms(db, change).length === 0) {
    // Nothing to restart: no packing to do (CloudStack measured plans computed for nothing).
    return planningHosts(db, liveSet, change).length >= n
      ? { status: 'Plan_exists_for_all_VMs', heuristic: 'none' }
      : { status: 'No_plan_exists', heuristic: 'trivial' };
  }
  const p = planningProblem(db, liveSet, n, change);
  if (p.unplaceable.length > 0) return { status: 'No_plan_exists', heuristic: 'trivial' };
  const r = planExists(p.config);
  return { status: r.exists ? 'Plan_exists_for_all_VMs' : 'No_plan_exists', heuristic: r.heuristic };
}

/**
 * The largest n in [0, hosts in the pool] with a plan for all VMs, by bisection (xapi assumes the
 * answer is monotonic in n); 0 even when not even 0 failures can be planned for.
 */
export function maxHostFailuresToTolerate(db: Database, liveSet: ReadonlySet<Ref>, change: PlanChange = {}): { max: number; heuristic: Heuristic } {
  const total = entries(db, 'host').length;
  let lo = 0;
  let hi = total;
  let heuristic: Heuristic = 'none';
  const ok = (n: number) => {
    const a = planForFailures(db, liveSet, n, change);
    if (a.heuristic !== 'none' && a.heuristic !== 'trivial') heuristic = a.heuristic;
    else if (heuristic === 'none') heuristic = a.heuristic;
    return a.status === 'Plan_exists_for_all_VMs';
  };
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (ok(mid)) lo = mid;
    else hi = mid - 1;
  }
  return { max: lo, heuristic };
}

/** `pool.ha_compute_vm_failover_plan`: where each given VM would go if the given hosts failed. */
export function vmFailoverPlan(db: Database, liveSet: ReadonlySet<Ref>, failedHosts: readonly Ref[], failedVms: readonly Ref[]): Record<Ref, Record<string, string>> {
  const hosts = planningHosts(db, liveSet).filter((h) => !failedHosts.includes(h));
  const free = new Map(hosts.map((h) => [h, hostFreeMemory(db, h)]));
  const items = failedVms.map((ref) => ({ ref, size: vmSize(getVm(db, ref)) }));
  const { placed } = bestFitDecreasing(free, items);
  const out: Record<Ref, Record<string, string>> = {};
  for (const { ref } of items) {
    const h = placed.get(ref);
    out[ref] = h !== undefined ? { host: h } : { error_code: 'HOST_NOT_ENOUGH_FREE_MEMORY' };
  }
  return out;
}

function getVm(db: Database, ref: Ref): VMRecord {
  const vm = find(db, 'VM', ref);
  if (!vm) throw new CommandError('HANDLE_INVALID', ['VM', ref]);
  return vm;
}

/**
 * Admission control (§5.5): with HA enabled and overcommit not allowed, a change that turns an
 * existing plan for `ha_plan_exists_for` failures into none is refused. A pool that is already
 * without a plan is never blocked.
 */
export function assertChangePreservesPlan(db: Database, liveSet: ReadonlySet<Ref>, change: PlanChange): void {
  const [, pool] = poolEntry(db);
  if (!pool.ha_enabled || pool.ha_allow_overcommit) return;
  const r = pool.ha_plan_exists_for;
  if (planForFailures(db, liveSet, r).status !== 'Plan_exists_for_all_VMs') return;
  if (planForFailures(db, liveSet, r, change).status !== 'Plan_exists_for_all_VMs') {
    throw new CommandError('HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN', []);
  }
}

export type PlanEvent =
  | { readonly name: 'HA_POOL_OVERCOMMITTED' }
  | { readonly name: 'HA_POOL_DROP_IN_PLAN_EXISTS_FOR'; readonly value: number };

export interface PoolStatusUpdate {
  readonly fields: { ha_plan_exists_for?: number; ha_overcommitted?: boolean };
  readonly events: PlanEvent[];
  /** The plan for the target number of failures, as computed for this update. */
  readonly plan: PlanAnswer;
}

/**
 * `update_pool_status`: a plan for the target → not overcommitted, plan exists for the target;
 * otherwise overcommitted, plan exists for min(target, max), and the alerts xapi raises when the
 * plan shrank or the pool just became overcommitted. Returns only the fields that change.
 */
export function poolStatusUpdate(db: Database, liveSet: ReadonlySet<Ref>): PoolStatusUpdate {
  const [, pool] = poolEntry(db);
  const target = pool.ha_host_failures_to_tolerate;
  const fields: { ha_plan_exists_for?: number; ha_overcommitted?: boolean } = {};
  const events: PlanEvent[] = [];
  const now = planForFailures(db, liveSet, target);
  if (now.status === 'Plan_exists_for_all_VMs') {
    if (pool.ha_overcommitted) fields.ha_overcommitted = false;
    if (pool.ha_plan_exists_for !== target) fields.ha_plan_exists_for = target;
    return { fields, events, plan: now };
  }
  const { max } = maxHostFailuresToTolerate(db, liveSet);
  if (pool.ha_plan_exists_for !== max) {
    const value = Math.min(target, max);
    if (value !== pool.ha_plan_exists_for) fields.ha_plan_exists_for = value;
    if (max < pool.ha_plan_exists_for) events.push({ name: 'HA_POOL_DROP_IN_PLAN_EXISTS_FOR', value: max });
  }
  if (!pool.ha_overcommitted) {
    fields.ha_overcommitted = true;
    events.push({ name: 'HA_POOL_OVERCOMMITTED' });
  }
  return { fields, events, plan: now };
}
