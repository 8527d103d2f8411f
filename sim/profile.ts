import type { Fault } from './faults.ts';
import type { Network } from './network.ts';
import type { Prng } from './prng.ts';
import type { SimHost } from './sim-host.ts';
import type { Trace } from './trace.ts';
import type { World } from './world.ts';

/** What a profile gets to build its cluster on. */
export interface SimContext {
  readonly world: World;
  readonly net: Network;
  readonly trace: Trace;
  /** The workload's own stream: cluster variant and client operations. */
  readonly prng: Prng;
}

/**
 * One cluster under test. The runner owns time, faults and the loop; the profile knows its
 * library: how to start hosts, what its clients do, and what must always (and eventually) hold.
 */
export interface ClusterRun {
  /** One line describing the variant drawn for this seed (mode, sizes, timers). */
  readonly variant: string;
  readonly hosts: readonly SimHost<unknown>[];
  /** Simulated length of the fault phase. */
  readonly faultPhaseMs: number;
  /**
   * After the last fault, the cluster must converge within this long (derived from its timers). Read
   * once the faults have stopped (after `faultsEnd`), so it may count timers still running then.
   */
  readonly convergenceBoundMs: number;
  /** A stable one-line description of a host (state, role, what it serves); changes are traced. */
  status(host: SimHost<unknown>): string;
  /** Schedules client and operator operations during the fault phase. */
  startWorkload(): void;
  /** Safety invariants: must hold after every step. Returns what is broken. */
  violations(): string[];
  /** Applies a host-level fault the runner does not model itself (storage cuts, freezes). */
  applyFault?(f: Fault, host: SimHost<unknown>): void;
  /** The faults stop: undo the profile's own faults (the runner heals, calms and restarts). */
  faultsEnd?(): void;
  /** Longest freeze the fault plan may draw; also turns on storage cuts (see PlanLimits). */
  readonly maxFreezeMs?: number;
  /** Undefined once converged, else what is still missing. */
  unconverged(): string | undefined;
}

export interface Profile {
  readonly name: string;
  build(ctx: SimContext): ClusterRun;
}
