import { CommandError } from '../../../core/errors.ts';

/**
 * What one host keeps for itself across restarts (xapi's local DB and pool.conf role file), and the
 * participant side of the two-phase master change. Every function returns the new state and the
 * record to append to the host's local redo log; the shell appends it before answering, so a
 * promise given is a promise kept after kill -9. PURE.
 */

export type Role =
  | { readonly kind: 'master' }
  | { readonly kind: 'slave'; readonly master: string };

/** A promise to accept `address` as the next master, given at wall time `wallMs`. */
export interface Proposal {
  readonly address: string;
  readonly wallMs: number;
  readonly manual: boolean;
}

/** The coordinator's durable progress (only on the host that runs designate_new_master). */
export interface Coordination {
  readonly address: string;
  /** Addresses of every other host, in the order proposals go out. */
  readonly peers: readonly string[];
  /** The master when the change started; its promise is what keeps it from acting as master. */
  readonly oldMaster: string;
  /** Wall time the change started: every promise it collected is at least this recent. */
  readonly startedWallMs: number;
  /** The commit point: once true, this host is master and commits are resent until answered. */
  readonly decided: boolean;
  /** The old master confirmed the commit: from now on it can never act as master again by itself. */
  readonly oldMasterCommitted: boolean;
}

/**
 * This host's HA settings (xapi's local DB keys ha.armed, ha.disable_failover_decisions,
 * ha_cluster_stack, ha_base_t, plus what the stack needs to rejoin after a restart), and the wall
 * times of its recent self-fences (fence-loop protection).
 */
export interface HaLocal {
  readonly armed: boolean;
  readonly stack: string;
  readonly generation: string;
  readonly timeoutMs: number;
  /** The heartbeat SR's device_config as this host's PBD has it. */
  readonly deviceConfig: Readonly<Record<string, string>>;
  readonly disableFailoverDecisions: boolean;
  readonly fences: readonly number[];
}

export interface LocalState {
  readonly ha?: HaLocal;
  readonly role: Role;
  readonly proposal?: Proposal;
  readonly coordination?: Coordination;
}

export type LocalRecord =
  | { readonly kind: 'role'; readonly role: Role }
  | { readonly kind: 'proposal'; readonly proposal: Proposal | null }
  | { readonly kind: 'coordination'; readonly coordination: Coordination | null }
  | { readonly kind: 'ha'; readonly ha: HaLocal };

export interface LocalStep {
  readonly state: LocalState;
  /** Records to append, in order, before the answer leaves; empty when nothing changed. */
  readonly records: readonly LocalRecord[];
}

export function initialLocalState(isInitialMaster: boolean, masterAddress: string): LocalState {
  return { role: isInitialMaster ? { kind: 'master' } : { kind: 'slave', master: masterAddress } };
}

export function applyLocal(s: LocalState, r: LocalRecord): LocalState {
  switch (r.kind) {
    case 'role':
      return { ...s, role: r.role };
    case 'proposal': {
      const { proposal: _old, ...rest } = s;
      return r.proposal ? { ...rest, proposal: r.proposal } : rest;
    }
    case 'coordination': {
      const { coordination: _old, ...rest } = s;
      return r.coordination ? { ...rest, coordination: r.coordination } : rest;
    }
    case 'ha':
      return { ...s, ha: r.ha };
  }
}

export function replayLocal(initial: LocalState, records: readonly LocalRecord[]): LocalState {
  return records.reduce(applyLocal, initial);
}

function step(s: LocalState, records: LocalRecord[]): LocalStep {
  return { state: records.reduce(applyLocal, s), records };
}

/** The proposal this host is bound by at `wallMs`, if it has not expired. */
export function activeProposal(s: LocalState, wallMs: number, timeoutMs: number): Proposal | undefined {
  const p = s.proposal;
  return p !== undefined && wallMs - p.wallMs < timeoutMs ? p : undefined;
}

/** Master address this host follows ('' when it is master itself). */
export function masterAddressOf(s: LocalState, myAddress: string): string {
  return s.role.kind === 'master' ? myAddress : s.role.master;
}

export type ActingRole = 'master' | 'slave' | 'transitioning';

/**
 * What the host acts as now. A host that has promised another host to make it master is
 * 'transitioning': an old master stops changing the database, so the new master's copy is
 * complete. The new master is 'transitioning' too from its decision until the old master has
 * confirmed the commit, because until then the old master's promise may expire and it may act as
 * master again. So two hosts never both act as master (given clock skew well below the proposal
 * timeout, as with xapi's own stale-proposal window).
 */
export function actingRole(s: LocalState, myAddress: string, wallMs: number, timeoutMs: number): ActingRole {
  const p = activeProposal(s, wallMs, timeoutMs);
  if (s.role.kind !== 'master') return 'slave';
  const c = s.coordination;
  if (c && c.decided && !c.oldMasterCommitted && c.oldMaster !== myAddress) return 'transitioning';
  return p === undefined || p.address === myAddress ? 'master' : 'transitioning';
}

/** host.propose_new_master: accept, refresh, or refuse a different pending proposal. */
export function propose(
  s: LocalState, address: string, manual: boolean, wallMs: number, timeoutMs: number, knownAddresses: readonly string[],
): LocalStep {
  if (!knownAddresses.includes(address)) {
    throw new CommandError('HA_ABORT_NEW_MASTER', [`'${address}' is not the address of a host in this pool`]);
  }
  const p = activeProposal(s, wallMs, timeoutMs);
  if (p !== undefined && p.address !== address) {
    const secs = Math.floor((wallMs - p.wallMs) / 1000);
    throw new CommandError('HA_ABORT_NEW_MASTER', [
      `Already agreed to commit host address '${p.address}' at ${new Date(p.wallMs).toISOString()} ('${secs}' secs ago)`,
    ]);
  }
  return step(s, [{ kind: 'proposal', proposal: { address, wallMs, manual } }]);
}

/**
 * host.commit_new_master. Commits only a matching proposal. A repeated commit for the master this
 * host already follows is answered again without change, because a recovering coordinator resends
 * commits it cannot know were delivered.
 */
export function commitMaster(s: LocalState, address: string, myAddress: string, wallMs: number, timeoutMs: number): LocalStep {
  const p = activeProposal(s, wallMs, timeoutMs);
  if (p === undefined) {
    if (masterAddressOf(s, myAddress) === address) return { state: s, records: [] };
    throw new CommandError('HA_ABORT_NEW_MASTER', [`Received commit_new_master(${address}) but never received a proposal`]);
  }
  if (p.address !== address) {
    throw new CommandError('HA_ABORT_NEW_MASTER', [`Received commit_new_master(${address}) but previously received proposal for ${p.address}`]);
  }
  const role: Role = address === myAddress ? { kind: 'master' } : { kind: 'slave', master: address };
  return step(s, [{ kind: 'role', role }, { kind: 'proposal', proposal: null }]);
}

/**
 * host.abort_new_master: drops the promise if it was made to `address`. Unlike xapi we keep a
 * promise made to someone else, so a stray abort cannot release a host from another coordinator.
 */
export function abortMaster(s: LocalState, address: string): LocalStep {
  if (s.proposal === undefined || s.proposal.address !== address) return { state: s, records: [] };
  return step(s, [{ kind: 'proposal', proposal: null }]);
}

/** pool.emergency_transition_to_master: this host becomes master, whatever it promised. */
export function emergencyTransition(s: LocalState): LocalStep {
  const records: LocalRecord[] = [];
  if (s.role.kind !== 'master') records.push({ kind: 'role', role: { kind: 'master' } });
  if (s.proposal !== undefined) records.push({ kind: 'proposal', proposal: null });
  return step(s, records);
}

/** pool.emergency_reset_master: follow `address` from now on. */
export function emergencyReset(s: LocalState, address: string, myAddress: string): LocalStep {
  if (address === myAddress) return emergencyTransition(s);
  const records: LocalRecord[] = [];
  if (s.role.kind !== 'slave' || s.role.master !== address) records.push({ kind: 'role', role: { kind: 'slave', master: address } });
  if (s.proposal !== undefined) records.push({ kind: 'proposal', proposal: null });
  return step(s, records);
}

/**
 * A slave learns that the host it follows is itself a slave of `address` (HOST_IS_SLAVE on a
 * heartbeat): it follows the redirect, unless it has promised a different master.
 */
export function followRedirect(s: LocalState, address: string, myAddress: string, wallMs: number, timeoutMs: number): LocalStep {
  if (s.role.kind !== 'slave' || s.role.master === address || address === myAddress) return { state: s, records: [] };
  const p = activeProposal(s, wallMs, timeoutMs);
  if (p !== undefined && p.address !== address) return { state: s, records: [] };
  const records: LocalRecord[] = [{ kind: 'role', role: { kind: 'slave', master: address } }];
  if (p !== undefined) records.push({ kind: 'proposal', proposal: null });
  return step(s, records);
}

/**
 * The local records in a store's log, in order. Each frame holds one step's records as an array;
 * a frame holding a single record is read too (logs written before steps were atomic).
 */
export function localRecordsOf(stored: readonly unknown[]): LocalRecord[] {
  return stored.flatMap((frame) => (Array.isArray(frame) ? frame : [frame]).filter(isLocalRecord));
}

export function isLocalRecord(v: unknown): v is LocalRecord {
  const k = (v as { kind?: unknown } | null)?.kind;
  return k === 'role' || k === 'proposal' || k === 'coordination' || k === 'ha';
}

/** Sets this host's HA settings (one record). */
export function setHaLocal(s: LocalState, ha: HaLocal): LocalStep {
  return step(s, [{ kind: 'ha', ha }]);
}

/**
 * HA automatic failover: the master lock says `address` is master. Follow it (or become master
 * when it is this host), dropping any two-phase-commit promise, which the lock supersedes.
 */
export function followLockHolder(s: LocalState, address: string, myAddress: string): LocalStep {
  return emergencyReset(s, address, myAddress);
}
