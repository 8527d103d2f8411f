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
 * The machine says what to do next as raft's Ready does (`nextStep`): records to persist and one
 * thing to send or do. The shell persists the records as one atomic frame, then sends, then
 * reports the outcome back (`onPersisted`, `onProposed`, ...) — so no message ever depends on state
 * a crash could forget. Persisted are the start, the decision, the old master's confirmation and
 * the end; after a crash `recoverCoordinator` aborts an undecided change everywhere and resends
 * the commits of a decided one. PURE.
 */

export type CoordPhase = 'proposing' | 'synced' | 'decided' | 'aborting';

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
  /** Records a transition produced that must be persisted before the next message goes out. */
  readonly unpersisted: readonly LocalRecord[];
}

/** What the shell sends or does once the step's records are durable. */
export type CoordSend =
  | { readonly type: 'propose'; readonly to: string; readonly self: boolean }
  | { readonly type: 'fetch-database' }
  /** The decision is durable: this host is master (transitioning until the old master confirms). */
  | { readonly type: 'take-over' }
  | { readonly type: 'commit'; readonly to: string }
  | { readonly type: 'abort'; readonly to: string; readonly self: boolean }
  /** The decision is void and this host follows the old master again (see voidDecision). */
  | { readonly type: 'step-back' }
  | { readonly type: 'finished'; readonly outcome: 'committed'; readonly unconfirmed: readonly string[] }
  | { readonly type: 'finished'; readonly outcome: 'aborted'; readonly failure?: Failure };

/** One step: persist `persist` (one atomic frame, possibly empty), then `send`. */
export interface CoordStep {
  readonly persist: readonly LocalRecord[];
  readonly send: CoordSend;
}

const base = (c: Coordination, phase: CoordPhase): Coordinator => ({
  address: c.address, peers: c.peers, oldMaster: c.oldMaster, startedWallMs: c.startedWallMs, oldMasterCommitted: c.oldMasterCommitted,
  phase, asked: [], committed: [], unconfirmed: [], refused: [], aborted: [], unpersisted: [],
});

/** The durable part of a coordinator. */
export function coordinationOf(c: Coordinator, decided: boolean): Coordination {
  return { address: c.address, peers: c.peers, oldMaster: c.oldMaster, startedWallMs: c.startedWallMs, decided, oldMasterCommitted: c.oldMasterCommitted };
}

/**
 * Starts a master change; its first step persists the start before the first proposal.
 * Commits go to the old master first, to keep the window in which nobody acts as master short.
 */
export function startCoordinator(address: string, hosts: readonly string[], oldMaster: string, wallMs: number): Coordinator {
  const others = hosts.filter((p) => p !== address);
  const peers = others.includes(oldMaster) ? [oldMaster, ...others.filter((p) => p !== oldMaster)] : others;
  const coordination: Coordination = { address, peers, oldMaster, startedWallMs: wallMs, decided: false, oldMasterCommitted: false };
  return { ...base(coordination, 'proposing'), unpersisted: [{ kind: 'coordination', coordination }] };
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

/** The records that make the decision: the commit point of the change. */
function decisionRecords(c: Coordinator): LocalRecord[] {
  return [
    { kind: 'coordination', coordination: coordinationOf(c, true) },
    { kind: 'role', role: { kind: 'master' } },
    { kind: 'proposal', proposal: null },
  ];
}

/** What to persist and send next. */
export function nextStep(c: Coordinator): CoordStep {
  const step = (send: CoordSend, records: readonly LocalRecord[] = []): CoordStep => ({ persist: [...c.unpersisted, ...records], send });
  const back = voidDecision(c);
  if (back) return step({ type: 'step-back' }, back);
  switch (c.phase) {
    case 'proposing': {
      const to = order(c).find((h) => !c.asked.includes(h));
      return step(to !== undefined ? { type: 'propose', to, self: to === c.address } : { type: 'fetch-database' });
    }
    case 'synced':
      return step({ type: 'take-over' }, decisionRecords(c));
    case 'decided': {
      const to = c.peers.find((h) => !c.committed.includes(h) && !c.refused.includes(h) && !c.unconfirmed.includes(h));
      if (to !== undefined) return step({ type: 'commit', to });
      const done: LocalRecord[] = c.unconfirmed.length === 0 ? [{ kind: 'coordination', coordination: null }] : [];
      return step({ type: 'finished', outcome: 'committed', unconfirmed: c.unconfirmed }, done);
    }
    case 'aborting': {
      const to = c.asked.find((h) => !c.aborted.includes(h));
      if (to !== undefined) return step({ type: 'abort', to, self: to === c.address });
      return step({ type: 'finished', outcome: 'aborted', ...(c.failure ? { failure: c.failure } : {}) }, [{ kind: 'coordination', coordination: null }]);
    }
  }
}

/** The step's records are durable. */
export function onPersisted(c: Coordinator): Coordinator {
  return c.unpersisted.length === 0 ? c : { ...c, unpersisted: [] };
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

/** A commit was answered. The old master's confirmation is persisted with the next step. */
export function onCommitted(c: Coordinator, to: string): Coordinator {
  const next = { ...c, committed: [...c.committed, to], unconfirmed: c.unconfirmed.filter((h) => h !== to) };
  if (to !== c.oldMaster || c.oldMasterCommitted) return next;
  const confirmed = { ...next, oldMasterCommitted: true };
  return { ...confirmed, unpersisted: [...c.unpersisted, { kind: 'coordination', coordination: coordinationOf(confirmed, true) }] };
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

