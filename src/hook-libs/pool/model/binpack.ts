/**
 * The bin-packing heuristics behind the failover planner (spec/xapi-ha.md §5.3). Hosts are bins with
 * free memory, protected VMs are items. PURE: no clock, no I/O; the same input gives the same answer,
 * because every tie is broken by the order the caller gives (hosts and VMs sorted by UUID).
 */

export interface PackHost {
  readonly ref: string;
  readonly free: number;
}

export interface PackVm {
  readonly ref: string;
  readonly size: number;
}

/** One planning problem: live hosts with free memory and agile protected VMs placed on them. */
export interface PackConfig {
  readonly hosts: readonly PackHost[];
  readonly vms: readonly PackVm[];
  /** VM ref → host ref, for every VM in `vms`. */
  readonly placement: ReadonlyMap<string, string>;
  /** Host failures the plan must survive. */
  readonly failures: number;
}

export type Heuristic = 'none' | 'trivial' | 'exhaustive' | 'approximate';

/** xapi's bound on the exhaustive search: C(n, r)·r! orderings of failures (§5.3). */
export const EXHAUSTIVE_LIMIT = 3500;
/** Above this many hosts the approximate bound is used whatever r is. */
export const EXHAUSTIVE_MAX_HOSTS = 32;

export interface BinpackResult {
  /** VM ref → host ref for every VM that fitted. */
  readonly placed: Map<string, string>;
  /** VMs that fitted nowhere, in the order they were tried. */
  readonly left: PackVm[];
}

/**
 * Biggest-fit-decreasing: VMs by size descending, each onto the host with the most free memory at
 * that moment; a VM that does not fit there fits nowhere and is left out. `free` is updated in place.
 */
export function bestFitDecreasing(free: Map<string, number>, vms: readonly PackVm[]): BinpackResult {
  const order = [...vms].map((vm, i) => ({ vm, i })).sort((a, b) => b.vm.size - a.vm.size || a.i - b.i);
  const placed = new Map<string, string>();
  const left: PackVm[] = [];
  for (const { vm } of order) {
    let best: string | undefined;
    let bestFree = -Infinity;
    for (const [host, f] of free) if (f > bestFree) { best = host; bestFree = f; }
    if (best === undefined || vm.size > bestFree) { left.push(vm); continue; }
    free.set(best, bestFree - vm.size);
    placed.set(vm.ref, best);
  }
  return { placed, left };
}

/** n!/(n-r)!, stopping as soon as it reaches `cap` (the product only matters below xapi's limit). */
export function orderings(n: number, r: number, cap = Number.MAX_SAFE_INTEGER): number {
  let p = 1;
  for (let i = 0; i < r; i++) {
    p *= n - i;
    if (p >= cap) return cap;
  }
  return p;
}

/** xapi's choice between the two heuristics for n live hosts and r failures. */
export function chooseHeuristic(n: number, r: number): 'exhaustive' | 'approximate' {
  if (n > EXHAUSTIVE_MAX_HOSTS) return 'approximate';
  return orderings(n, r, EXHAUSTIVE_LIMIT) < EXHAUSTIVE_LIMIT ? 'exhaustive' : 'approximate';
}

/** Too few hosts to survive r failures: fewer than r, or exactly r with anything to restart. */
export function triviallyImpossible(c: PackConfig): boolean {
  return c.hosts.length < c.failures || (c.hosts.length === c.failures && c.vms.length > 0);
}

/**
 * Exhaustive: every ordered choice of r failing hosts, failing one at a time; after each failure the
 * dead host's VMs (including any that moved there earlier) are packed onto the hosts still up.
 * True when every such sequence packs completely.
 */
export function planAlwaysPossible(c: PackConfig): boolean {
  if (triviallyImpossible(c)) return false;
  const size = new Map(c.vms.map((v) => [v.ref, v.size]));
  const free = new Map(c.hosts.map((h) => [h.ref, h.free]));
  const onHost = new Map<string, string[]>(c.hosts.map((h) => [h.ref, []]));
  for (const vm of c.vms) onHost.get(c.placement.get(vm.ref) ?? '')?.push(vm.ref);
  return survives(free, onHost, size, c.failures);
}

function survives(free: Map<string, number>, onHost: Map<string, string[]>, size: Map<string, number>, failures: number): boolean {
  if (failures === 0) return true;
  for (const dead of [...free.keys()]) {
    const nextFree = new Map(free);
    nextFree.delete(dead);
    const moving = (onHost.get(dead) ?? []).map((ref) => ({ ref, size: size.get(ref) ?? 0 }));
    const { placed, left } = bestFitDecreasing(nextFree, moving);
    if (left.length > 0) return false;
    const nextOn = new Map<string, string[]>();
    for (const [h, vms] of onHost) if (h !== dead) nextOn.set(h, [...vms]);
    for (const [vm, h] of placed) nextOn.get(h)?.push(vm);
    if (!survives(nextFree, nextOn, size, failures - 1)) return false;
  }
  return true;
}

/**
 * Approximate: pretend every VM is as big as the largest; a host then holds floor(free/max) more of
 * them. Drop the r hosts that could hold the most; the r fullest hosts' VMs must fit in what is left.
 * Never more optimistic than the exhaustive search: each placement of a VM no bigger than `max` uses
 * at most one such slot, and the survivors always have at least the slots counted here.
 */
export function planApproximatelyPossible(c: PackConfig): boolean {
  if (triviallyImpossible(c)) return false;
  if (c.vms.length === 0) return true;
  const max = Math.max(...c.vms.map((v) => v.size));
  if (max <= 0) return c.hosts.length > c.failures;
  const slots = c.hosts.map((h) => Math.max(0, Math.floor(h.free / max))).sort((a, b) => b - a);
  const counts = new Map<string, number>(c.hosts.map((h) => [h.ref, 0]));
  for (const vm of c.vms) {
    const h = c.placement.get(vm.ref);
    if (h !== undefined && counts.has(h)) counts.set(h, (counts.get(h) ?? 0) + 1);
  }
  const load = [...counts.values()].sort((a, b) => b - a);
  const moves = load.slice(0, c.failures).reduce((s, x) => s + x, 0);
  const room = slots.slice(c.failures).reduce((s, x) => s + x, 0);
  return moves <= room;
}

/** Runs the heuristic xapi would choose for this problem and says which one it was. */
export function planExists(c: PackConfig): { exists: boolean; heuristic: Heuristic } {
  if (c.vms.length === 0 && c.hosts.length >= c.failures) return { exists: true, heuristic: 'none' };
  if (triviallyImpossible(c)) return { exists: false, heuristic: 'trivial' };
  const heuristic = chooseHeuristic(c.hosts.length, c.failures);
  return { exists: heuristic === 'exhaustive' ? planAlwaysPossible(c) : planApproximatelyPossible(c), heuristic };
}
