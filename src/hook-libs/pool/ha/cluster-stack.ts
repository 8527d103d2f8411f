import type { Clock } from '../../../core/clock.ts';
import type { Logger } from '../../../core/logger.ts';
import type { Answer } from '../../../core/commands/answer.ts';
import type { FaultInjection, PeerAddress } from '../../../core/hooks/hook-library.ts';
import type { Store } from '../../../store/store.ts';
import type { HaTimeouts } from './timeouts.ts';

/**
 * What pool HA needs from a cluster stack ("Multiple Cluster Managers", DESIGN.md): join and leave
 * the liveset, report it, decide the master (the master lock), arm and disarm fencing, and keep the
 * HA redo log where a new master can read it. `xhad` (statefile + network heartbeats) is built in;
 * other stacks (etcd: leases, elections, its own key space for the redo log) plug in through the
 * same interface and the registry below. Nothing here names a statefile or a heartbeat.
 */

export interface StackMember {
  /** Host UUID: the identity the liveset and the lock use; lowest UUID wins ties. */
  readonly uuid: string;
  readonly name: string;
  readonly url: string;
  readonly address: string;
}

/** What a stack is started with on one host (fixed for one enable: same generation on every host). */
export interface StackContext {
  readonly poolUuid: string;
  /** A fresh UUID per pool.enable_ha; hosts of another generation are ignored. */
  readonly generation: string;
  readonly me: StackMember;
  /** Every host of the pool, sorted by UUID. */
  readonly members: readonly StackMember[];
  readonly timeouts: HaTimeouts;
  /** The heartbeat SR's device_config (xhad: `location` is the statefile directory). */
  readonly deviceConfig: Readonly<Record<string, string>>;
  /** The pool parameters' `cluster-stacks.<name>` section (credentials, TLS files; paths absolute). */
  readonly parameters?: Readonly<Record<string, unknown>>;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly faults?: FaultInjection;
  /** Calls a peer's control channel (peer-only pool calls). */
  callPeer(peer: PeerAddress, command: string, args: Record<string, unknown>, timeoutMs: number): Promise<Answer>;
  peerOf(member: StackMember): PeerAddress;
}

export type StackState = 'stopped' | 'joining' | 'online' | 'fenced';

/** `ha_query_liveset`: what the stack knows now. */
export interface LivesetReport {
  readonly state: StackState;
  /** UUIDs of the current liveset (empty unless online). */
  readonly liveset: readonly string[];
  /** Hosts heard over the network, and seen on the shared medium (statefile), this one included. */
  readonly network: readonly string[];
  readonly statefile: readonly string[];
  readonly statefileAccess: boolean;
  /** The master-lock holder, if any. */
  readonly master: string | null;
  /** This host holds the lock and may act as master right now. */
  readonly iAmMaster: boolean;
  readonly fencingArmed: boolean;
  readonly failoverDecisions: boolean;
  /** Every live host relies on survival rule 2 (HA_STATEFILE_LOST). */
  readonly statefileLost: boolean;
  /** Which host would survive a network split of the current liveset, and why. */
  readonly splitSurvivor?: { readonly host: string; readonly reason: string };
  /** Stack-specific detail for status (latencies, sequence numbers…). */
  readonly detail?: Record<string, unknown>;
}

/** Why a stack tells the pool to fence this host. */
export interface FenceRequest {
  readonly reason: string;
}

export interface StackListener {
  /** The liveset, the lock holder or the statefile state changed. */
  changed(report: LivesetReport): void;
  /** The stack decided this host must not survive; fencing is armed. The pool stops at once. */
  fence(req: FenceRequest): void;
  /** The stack learned HA was disabled while this host was away (poisoned statefile). */
  invalidated(): void;
}

/** One stack instance on one host, for one enable generation. */
export interface ClusterStack {
  readonly name: string;
  /** host.preconfigure_ha: checks this host reaches the stack's shared medium (throws a CommandError). */
  prepare(): Promise<void>;
  /** `ha_set_pool_state init`: prepares the shared medium for a new enable (master only). */
  initialise(): Promise<void>;
  /** `ha_set_pool_state active`: the enable has formed its liveset; later (re)joins are boot joins. */
  activate(): Promise<void>;
  /**
   * `ha_start_daemon` + join: resolves once this host is in the liveset (within the join
   * timeout), or rejects with a CommandError (HA_FAILED_TO_FORM_LIVESET,
   * HA_HOST_CANNOT_ACCESS_STATEFILE, HA_POOL_IS_ENABLED_BUT_HOST_IS_DISABLED…).
   * `contend`: this host is the pool master and proposes itself for the lock.
   */
  join(opts: { readonly mode: 'enable' | 'boot'; readonly contend: boolean }): Promise<void>;
  /** The pool's idea of whether this host is master (it contends for the lock when nobody holds it). */
  setContend(contend: boolean): void;
  /** Clean shutdown: leave the liveset as excluded, so peers do not count it as a failure. */
  leave(): Promise<void>;
  query(): LivesetReport;
  watch(listener: StackListener): void;
  armFencing(): void;
  disarmFencing(): void;
  /** `ha.disable_failover_decisions`: never propose this host as master nor decide failover. */
  disableFailoverDecisions(): void;
  /** Disable via the shared medium: every host's stack sees it and stops (`ha_set_pool_state invalid`). */
  invalidate(): Promise<void>;
  /** Resolves once this host's stack has stopped after an invalidate; rejects (HA_LOST_STATEFILE) without access. */
  waitForShutdown(timeoutMs: number): Promise<void>;
  /** `ha_stop_daemon`: stop every loop (does not by itself disarm fencing). */
  stop(): Promise<void>;
  /** The HA redo log on the stack's shared storage (xhad: the heartbeat SR). */
  openRedoLog(): Promise<Store>;
  /** A peer's network heartbeat (the stack's own peer call), if the stack uses one. */
  receive?(message: unknown): void;
  /** Testing faults: cut this host off the shared medium, freeze its loops. */
  setFault?(fault: 'medium-cut' | 'medium-heal' | 'freeze' | 'thaw'): void;
}

export interface ClusterStackFactory {
  readonly name: string;
  /** SR types whose device_config the stack can keep its statefile in (INCOMPATIBLE_STATEFILE_SR). */
  readonly statefileSrTypes: readonly string[];
  create(ctx: StackContext): ClusterStack;
}

const registry = new Map<string, ClusterStackFactory>();

/** Registers a cluster stack by name (built-ins at module load; a later issue adds etcd). */
export function registerClusterStack(f: ClusterStackFactory): void {
  registry.set(f.name, f);
}

export function clusterStack(name: string): ClusterStackFactory | undefined {
  return registry.get(name);
}

export function clusterStackNames(): string[] {
  return [...registry.keys()].sort();
}
