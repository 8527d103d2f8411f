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
  /** Hosts in the pool, live or not: xapi's `total_hosts`, the n its choice of heuristic is made on. */
  readonly totalHosts: number;
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

/** xapi's choice between the two heuristics for n hosts in the pool (not only the live ones) and r failures. */
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
  return new FailureSearch(c).survives(c.failures);
}

/**
 * The exhaustive search as a depth-first walk that applies one failure, recurses and undoes it, on
 * flat arrays: no copy of the placement per branch (the bench showed copies dominating at 5,000 VMs).
 * Equal-sized VMs are interchangeable, so ties among them may be broken by index.
 */
class FailureSearch {
  private readonly free: Float64Array;
  private readonly alive: Uint8Array;
  private readonly size: Float64Array;
  private readonly onHost: number[][];

  constructor(c: PackConfig) {
    const hostIndex = new Map(c.hosts.map((h, i) => [h.ref, i]));
    this.free = Float64Array.from(c.hosts, (h) => h.free);
    this.alive = new Uint8Array(c.hosts.length).fill(1);
    this.size = Float64Array.from(c.vms, (v) => v.size);
    this.onHost = c.hosts.map(() => []);
    c.vms.forEach((vm, i) => {
      const h = hostIndex.get(c.placement.get(vm.ref) ?? '');
      if (h !== undefined) this.onHost[h]?.push(i);
    });
  }

  survives(failures: number): boolean {
    if (failures === 0) return true;
    const n = this.free.length;
    for (let dead = 0; dead < n; dead++) {
      if (this.alive[dead] === 0) continue;
      const undo = this.fail(dead);
      if (undo === undefined) return false;
      const ok = this.survives(failures - 1);
      this.restore(dead, undo);
      if (!ok) return false;
    }
    return true;
  }

  /** Packs the dead host's VMs onto the live hosts; the moves made, or undefined when one fits nowhere. */
  private fail(dead: number): number[] | undefined {
    this.alive[dead] = 0;
    const moving = [...(this.onHost[dead] ?? [])].sort((a, b) => (this.size[b] as number) - (this.size[a] as number) || a - b);
    const moves: number[] = [];
    for (const vm of moving) {
      let best = -1;
      let bestFree = -Infinity;
      for (let h = 0; h < this.free.length; h++) {
        if (this.alive[h] === 1 && (this.free[h] as number) > bestFree) { best = h; bestFree = this.free[h] as number; }
      }
      const sz = this.size[vm] as number;
      if (best < 0 || sz > bestFree) {
        this.restore(dead, moves);
        return undefined;
      }
      this.free[best] = bestFree - sz;
      this.onHost[best]?.push(vm);
      moves.push(best, vm);
    }
    return moves;
  }

  private restore(dead: number, moves: readonly number[]): void {
    for (let i = moves.length - 2; i >= 0; i -= 2) {
      const h = moves[i] as number;
      this.onHost[h]?.pop();
      this.free[h] = (this.free[h] as number) + (this.size[moves[i + 1] as number] as number);
    }
    this.alive[dead] = 1;
  }
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
  const heuristic = chooseHeuristic(c.totalHosts, c.failures);
  return { exists: heuristic === 'exhaustive' ? planAlwaysPossible(c) : planApproximatelyPossible(c), heuristic };
}
