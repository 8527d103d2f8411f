import type { ErrorName } from '../../../core/errors.ts';
import type { Coordination, LocalRecord } from './local-state.ts';

/**
 * The coordinator side of pool.designate_new_master, run by the host that becomes master:
 *
 *   proposing  host.propose_new_master(me) to every peer in order, then to myself
 *   (fetch)    fetch the pool database from the old master (frozen by its promise)
 *   synced     persist "decided" + role master: the commit point
 *   decided    host.commit_new_master(me) to every peer; unanswered ones are resent later
 *   aborting   any failure before the commit point: host.abort_new_master(me) to every host asked
 *
 * The machine says what to do next (`nextAction`); the shell does it and reports back. Only the
 * start and the decision are persisted; after a crash `recoverCoordinator` aborts an undecided
 * change everywhere and resends the commits of a decided one. PURE.
 */

export type CoordPhase = 'proposing' | 'synced' | 'decided' | 'aborting' | 'committed' | 'aborted';

export interface Failure {
  readonly error: ErrorName;
  readonly params: readonly string[];
}

export interface Coordinator {
  readonly address: string;
  readonly peers: readonly string[];
  readonly oldMaster: string;
  readonly startedWallMs: number;
  readonly oldMasterCommitted: boolean;
  readonly phase: CoordPhase;
  /** Hosts a proposal was sent to (the last one may have failed). */
  readonly asked: readonly string[];
  readonly committed: readonly string[];
  /** Commits that failed in transport; resent by `retryCommits`. */
  readonly unconfirmed: readonly string[];
  /** Peers that refused the commit for good (their promise had expired); they converge by following redirects. */
  readonly refused: readonly string[];
  readonly aborted: readonly string[];
  readonly failure?: Failure;
}

export type CoordAction =
  | { readonly type: 'propose'; readonly to: string; readonly self: boolean }
  | { readonly type: 'fetch-database' }
  | { readonly type: 'decide'; readonly records: readonly LocalRecord[] }
  | { readonly type: 'commit'; readonly to: string }
  | { readonly type: 'abort'; readonly to: string; readonly self: boolean }
  | { readonly type: 'finished'; readonly outcome: 'committed'; readonly unconfirmed: readonly string[]; readonly records: readonly LocalRecord[] }
  | { readonly type: 'finished'; readonly outcome: 'aborted'; readonly failure?: Failure; readonly records: readonly LocalRecord[] };

const base = (c: Coordination, phase: CoordPhase): Coordinator => ({
  address: c.address, peers: c.peers, oldMaster: c.oldMaster, startedWallMs: c.startedWallMs, oldMasterCommitted: c.oldMasterCommitted,
  phase, asked: [], committed: [], unconfirmed: [], refused: [], aborted: [],
});

/** The durable part of a coordinator. */
export function coordinationOf(c: Coordinator, decided: boolean): Coordination {
  return { address: c.address, peers: c.peers, oldMaster: c.oldMaster, startedWallMs: c.startedWallMs, decided, oldMasterCommitted: c.oldMasterCommitted };
}

/**
 * Starts a master change; the returned record must be persisted before the first proposal.
 * Commits go to the old master first, to keep the window in which nobody acts as master short.
 */
export function startCoordinator(address: string, hosts: readonly string[], oldMaster: string, wallMs: number): { coordinator: Coordinator; record: LocalRecord } {
  const others = hosts.filter((p) => p !== address);
  const peers = others.includes(oldMaster) ? [oldMaster, ...others.filter((p) => p !== oldMaster)] : others;
  const coordination: Coordination = { address, peers, oldMaster, startedWallMs: wallMs, decided: false, oldMasterCommitted: false };
  return { coordinator: base(coordination, 'proposing'), record: { kind: 'coordination', coordination } };
}

/** Rebuilds the coordinator after a restart from what was persisted. */
export function recoverCoordinator(c: Coordination): Coordinator {
  if (c.decided) return { ...base(c, 'decided'), committed: c.oldMasterCommitted ? [c.oldMaster] : [] };
  // Which proposals were delivered is unknown, so ask everyone to forget them; abort is harmless
  // to a host that never promised (it only drops a promise to this address).
  return { ...base(c, 'aborting'), asked: [...c.peers, c.address] };
}

/**
 * A decision is void when the old master refused the commit (its promise had expired and it went
 * on as master), so this host must go back to following it. Silence is not refusal: an old master
 * whose answer to the commit was lost has already become our slave, and stepping back then would
 * leave two slaves following each other and no master (found by the simulator, pool seed 312).
 * Until the old master answers, this host stays 'transitioning' (never acting as master) and the
 * commit is resent. Returns the records that step back, or undefined.
 */
export function voidDecision(c: Coordinator): LocalRecord[] | undefined {
  if (c.phase !== 'decided' || c.oldMasterCommitted || c.oldMaster === c.address) return undefined;
  if (!c.refused.includes(c.oldMaster)) return undefined;
  return [
    { kind: 'role', role: { kind: 'slave', master: c.oldMaster } },
    { kind: 'proposal', proposal: null },
    { kind: 'coordination', coordination: null },
  ];
}

const order = (c: Coordinator): string[] => [...c.peers, c.address];

export function nextAction(c: Coordinator): CoordAction {
  switch (c.phase) {
    case 'proposing': {
      const to = order(c).find((h) => !c.asked.includes(h));
      return to !== undefined ? { type: 'propose', to, self: to === c.address } : { type: 'fetch-database' };
    }
    case 'synced':
      return {
        type: 'decide',
        records: [
          { kind: 'coordination', coordination: coordinationOf(c, true) },
          { kind: 'role', role: { kind: 'master' } },
          { kind: 'proposal', proposal: null },
        ],
      };
    case 'decided': {
      const to = c.peers.find((h) => !c.committed.includes(h) && !c.refused.includes(h) && !c.unconfirmed.includes(h));
      if (to !== undefined) return { type: 'commit', to };
      return {
        type: 'finished', outcome: 'committed', unconfirmed: c.unconfirmed,
        records: c.unconfirmed.length === 0 ? [{ kind: 'coordination', coordination: null }] : [],
      };
    }
    case 'aborting': {
      const to = c.asked.find((h) => !c.aborted.includes(h));
      if (to !== undefined) return { type: 'abort', to, self: to === c.address };
      return { type: 'finished', outcome: 'aborted', ...(c.failure ? { failure: c.failure } : {}), records: [{ kind: 'coordination', coordination: null }] };
    }
    case 'committed':
      return { type: 'finished', outcome: 'committed', unconfirmed: [], records: [] };
    case 'aborted':
      return { type: 'finished', outcome: 'aborted', ...(c.failure ? { failure: c.failure } : {}), records: [] };
  }
}

/** A proposal was sent to `to` and accepted. */
export function onProposed(c: Coordinator, to: string): Coordinator {
  return { ...c, asked: [...c.asked, to] };
}

/** A proposal failed: abort everywhere asked, including `to` (it may have promised before failing to answer). */
export function onProposeFailed(c: Coordinator, to: string, failure: Failure): Coordinator {
  return { ...c, phase: 'aborting', asked: c.asked.includes(to) ? c.asked : [...c.asked, to], failure };
}

/** Every proposal was accepted and the database copied from the old master: ready to decide. */
export function onDatabaseFetched(c: Coordinator): Coordinator {
  return c.phase === 'proposing' ? { ...c, phase: 'synced' } : c;
}

export function onDatabaseFailed(c: Coordinator, failure: Failure): Coordinator {
  return { ...c, phase: 'aborting', failure };
}

export function onDecided(c: Coordinator): Coordinator {
  return { ...c, phase: 'decided' };
}

/** A commit was answered. When it is the old master's, the returned record must be persisted. */
export function onCommitted(c: Coordinator, to: string): { coordinator: Coordinator; record?: LocalRecord } {
  const next = { ...c, committed: [...c.committed, to], unconfirmed: c.unconfirmed.filter((h) => h !== to) };
  if (to !== c.oldMaster || c.oldMasterCommitted) return { coordinator: next };
  const confirmed = { ...next, oldMasterCommitted: true };
  return { coordinator: confirmed, record: { kind: 'coordination', coordination: coordinationOf(confirmed, true) } };
}

/** A commit failed. `refused` = the peer answered no (no matching promise); otherwise it is resent later. */
export function onCommitFailed(c: Coordinator, to: string, refused: boolean): Coordinator {
  return refused
    ? { ...c, refused: [...c.refused, to], unconfirmed: c.unconfirmed.filter((h) => h !== to) }
    : { ...c, unconfirmed: c.unconfirmed.includes(to) ? c.unconfirmed : [...c.unconfirmed, to] };
}

/** Makes unconfirmed commits eligible to be sent again. */
export function retryCommits(c: Coordinator): Coordinator {
  return { ...c, unconfirmed: [] };
}

/** An abort was sent (answered or not: an unanswered promise expires by itself). */
export function onAbortSent(c: Coordinator, to: string): Coordinator {
  return { ...c, aborted: [...c.aborted, to] };
}

export function onFinished(c: Coordinator): Coordinator {
  return { ...c, phase: c.phase === 'aborting' ? 'aborted' : c.phase === 'decided' ? 'committed' : c.phase };
}

