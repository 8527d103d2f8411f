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
 * The exhaustive search as a depth-first walk over failure orders. Orders that share a prefix share
 * the state after it, so each prefix is packed once (n = 16, r = 3: 16 + 240 packings, then 3,360
 * last failures) and the state is restored from a per-level copy on the way back, not rebuilt.
 *
 * VMs are numbered once by rank, biggest first (ties in the caller's order), so a host's VMs in
 * packing order are its initial ranks (sorted once) merged with the few moved onto it on this path:
 * no sort per failure (the sort was a quarter of the old search's time).
 */
class FailureSearch {
  /** Size by rank: descending. */
  private readonly size: Float64Array;
  /** Per host: ascending ranks of the VMs it holds before any failure. */
  private readonly initial: Int32Array[];
  /** Per host: ranks moved onto it by the failures on the current path. */
  private readonly moved: number[][];
  private readonly free: Float64Array;
  /** Per host: total size of the VMs on it now, what its failure has to move. */
  private readonly load: Float64Array;
  private readonly alive: Uint8Array;
  /** Scratch free memory for the last failure of a path, which is not kept. */
  private readonly scratch: Float64Array;
  /** Sizes are whole and not negative and every sum is exact (far below 2^53): `lastFailureFits` relies on it. */
  private readonly exact: boolean;

  constructor(c: PackConfig) {
    const n = c.hosts.length;
    const hostIndex = new Map(c.hosts.map((h, i) => [h.ref, i]));
    const byRank = c.vms.map((vm, i) => ({ vm, i })).sort((a, b) => b.vm.size - a.vm.size || a.i - b.i).map(({ vm }) => vm);
    this.size = Float64Array.from(byRank, (v) => v.size);
    this.free = Float64Array.from(c.hosts, (h) => h.free);
    this.scratch = new Float64Array(n);
    this.load = new Float64Array(n);
    this.alive = new Uint8Array(n).fill(1);
    this.moved = c.hosts.map(() => []);
    const initial: number[][] = c.hosts.map(() => []);
    byRank.forEach((vm, rank) => {
      const h = hostIndex.get(c.placement.get(vm.ref) ?? '');
      if (h === undefined) return;
      initial[h]!.push(rank);
      this.load[h] = this.load[h]! + vm.size;
    });
    this.initial = initial.map((ranks) => Int32Array.from(ranks));
    const values = [...this.free, ...this.size];
    const magnitude = values.reduce((sum, x) => sum + Math.abs(x), 0);
    this.exact = values.every(Number.isInteger) && (n + 1) * magnitude <= Number.MAX_SAFE_INTEGER && (this.size.at(-1) ?? 0) >= 0;
  }

  /** Whether every order of `left` more failures among the live hosts packs completely; stops at the first that does not. */
  survives(left: number): boolean {
    if (left === 0) return true;
    const saved = left > 1 ? { free: this.free.slice(), load: this.load.slice(), moved: this.moved.map((m) => m.length) } : undefined;
    for (let dead = 0; dead < this.free.length; dead++) {
      if (this.alive[dead] === 0) continue;
      this.alive[dead] = 0;
      const ok = saved ? this.fail(dead) && this.survives(left - 1) : this.lastFailureFits(dead);
      this.alive[dead] = 1;
      if (saved) {
        this.free.set(saved.free);
        this.load.set(saved.load);
        this.moved.forEach((m, h) => { m.length = saved.moved[h]!; });
      }
      if (!ok) return false;
    }
    return true;
  }

  /** Packs the dead host's VMs onto the live hosts, keeping the result for the failures after it. */
  private fail(dead: number): boolean {
    const hosts = new Int32Array(this.free.length);
    const free = new Float64Array(this.free.length);
    const k = this.survivors(free, hosts);
    for (const rank of this.ranksOn(dead, this.size.length)) {
      const i = roomiest(free, k);
      const sz = this.size[rank]!;
      if (i < 0 || sz > free[i]!) return false;
      free[i] = free[i]! - sz;
      const h = hosts[i]!;
      this.free[h] = free[i]!;
      this.load[h] = this.load[h]! + sz;
      this.moved[h]!.push(rank);
    }
    return true;
  }

  /**
   * The last failure of a path: only yes/no matters, so nothing is kept, and most VMs need no packing.
   * With k live hosts whose free memory sums to F, the roomiest has at least the average. A VM of
   * size s comes after at most S − s of the dead host's S (biggest first), so it finds at least
   * (F − S + s)/k, which is ≥ s when (k − 1)·s ≤ F − S, and then so do all smaller ones after it.
   * Only the VMs bigger than that are packed; the answer is the full packing's.
   */
  private lastFailureFits(dead: number): boolean {
    const free = this.scratch;
    const k = this.survivors(free);
    let sumFree = 0;
    for (let i = 0; i < k; i++) sumFree += free[i]!;
    const slack = sumFree - this.load[dead]!;
    // First rank sure to fit (sizes descend with rank: binary search); without exact sums or a survivor, none is.
    let lo = this.exact && k > 0 ? 0 : this.size.length;
    let hi = this.size.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((k - 1) * this.size[mid]! <= slack) hi = mid;
      else lo = mid + 1;
    }
    for (const rank of this.ranksOn(dead, lo)) {
      const i = roomiest(free, k);
      const sz = this.size[rank]!;
      if (i < 0 || sz > free[i]!) return false;
      free[i] = free[i]! - sz;
    }
    return true;
  }

  /**
   * The live hosts' free memory, copied to the front of `free` in host order (so the first of equals
   * is still the first host), and their indexes to `hosts`; returns how many. A compact copy keeps
   * the scan for the roomiest host, done once per VM moved, free of dead entries.
   */
  private survivors(free: Float64Array, hosts?: Int32Array): number {
    let k = 0;
    for (let h = 0; h < this.free.length; h++) {
      if (this.alive[h] === 0) continue;
      if (hosts) hosts[k] = h;
      free[k++] = this.free[h]!;
    }
    return k;
  }

  /** Ranks below `limit` of the VMs on host `h` now, ascending: its initial ones merged with those moved there. */
  private ranksOn(h: number, limit: number): Int32Array {
    const a = this.initial[h]!;
    const b = Int32Array.from(this.moved[h]!.filter((r) => r < limit)).sort();
    let na = 0;
    while (na < a.length && a[na]! < limit) na++;
    const out = new Int32Array(na + b.length);
    for (let i = 0, j = 0, o = 0; o < out.length; o++) out[o] = j === b.length || (i < na && a[i]! < b[j]!) ? a[i++]! : b[j++]!;
    return out;
  }
}

/** Index of the largest of free[0..k), the first of equals; -1 when k = 0. */
function roomiest(free: Float64Array, k: number): number {
  let best = -1;
  let most = -Infinity;
  for (let i = 0; i < k; i++) {
    if (free[i]! > most) { best = i; most = free[i]!; }
  }
  return best;
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
