import { CommandError } from '../../core/errors.ts';
import { PeerUnreachableError } from '../../core/hooks/hook-library.ts';
import { asDatabase } from './model/database.ts';
import { abortMaster, applyLocal, propose, type LocalRecord } from './model/local-state.ts';
import {
  nextStep, onAbortSent, onCommitFailed, onCommitted, onDatabaseFailed, onDatabaseFetched, onDecided, onPersisted, onProposeFailed,
  onProposed, recoverCoordinator, retryCommits, startCoordinator, type Coordinator, type CoordSend, type Failure,
} from './model/master-change.ts';
import type { PoolService } from './pool-service.ts';

/**
 * Runs the pure coordinator of a master change (model/master-change.ts) against the other hosts,
 * and the participant side of this host's own proposal. One loop applies each step in raft's
 * order: persist the step's records (one atomic frame), then send, then feed the outcome back.
 */

function failureOf(svc: PoolService, err: unknown, address: string): Failure {
  if (err instanceof CommandError) return { error: err.errorName, params: err.params };
  if (err instanceof PeerUnreachableError) return { error: 'CANNOT_CONTACT_HOST', params: [svc.refOfAddress(address)] };
  return { error: 'INTERNAL_ERROR', params: [String(err)] };
}

/** Accepts (and persists) a proposal on this host: the participant rule shared with host.propose_new_master. */
export async function acceptProposal(svc: PoolService, address: string, manual: boolean): Promise<void> {
  await svc.faultPoint('participant-before-promise');
  const known = svc.cfg.hosts.map((h) => h.address);
  await svc.changeLocal((s) => propose(s, address, manual, svc.wallMs(), svc.cfg.proposalTimeoutMs, known));
  svc.log.info({ msgId: 'POOL_PROPOSAL_ACCEPTED', address, manual }, `promised to accept ${address} as the new master`);
  await svc.faultPoint('participant-after-promise');
}

/**
 * Becomes master by two-phase commit; resolves when committed, rejects with the failure after
 * aborting. The guard is taken before the first await, so two concurrent requests cannot both
 * start a change.
 */
export async function runDesignate(svc: PoolService): Promise<void> {
  if (svc.coordinating || svc.local.coordination) throw new CommandError('DESIGNATE_NEW_MASTER_IN_PROGRESS', []);
  const coordinator = startCoordinator(svc.me.address, svc.cfg.hosts.map((h) => h.address), svc.masterAddress(), svc.wallMs());
  svc.log.info({ msgId: 'POOL_MASTER_CHANGE_START', address: svc.me.address }, `proposing ${svc.me.address} as the new master`);
  await coordinate(svc, coordinator);
}

/** After a restart: finish (decided) or abort (undecided) a master change this host coordinated. */
export function resumeCoordination(svc: PoolService): void {
  const c = svc.local.coordination;
  if (!c || svc.coordinating) return;
  svc.log.warn({ msgId: 'POOL_MASTER_CHANGE_RECOVER', decided: c.decided }, c.decided ? 'resending commits of a decided master change' : 'aborting an undecided master change');
  void coordinate(svc, recoverCoordinator(c)).catch((err) => {
    svc.log.warn({ msgId: 'POOL_MASTER_CHANGE_ABORTED', err: String(err) }, 'recovered master change ended without commit');
  });
}

/** Holds the one-change-at-a-time guard for the whole run of `drive`. */
async function coordinate(svc: PoolService, start: Coordinator): Promise<void> {
  svc.coordinating = true;
  try {
    await drive(svc, start);
  } finally {
    svc.coordinating = false;
  }
}

/** Persists one step's records as a single frame; the role's duties follow what became durable. */
async function persist(svc: PoolService, records: readonly LocalRecord[]): Promise<void> {
  if (records.length === 0) return;
  const before = svc.acting();
  await svc.changeLocal((s) => ({ state: records.reduce(applyLocal, s), records }));
  if (svc.acting() !== before) await svc.onRoleChanged();
}

async function drive(svc: PoolService, start: Coordinator): Promise<void> {
  let c = start;
  for (;;) {
    if (svc.stopped) return;
    const step = nextStep(c);
    await persist(svc, step.persist);
    c = onPersisted(c);
    const next = await send(svc, c, step.send);
    if (next === 'done') return;
    c = next;
  }
}

/** Performs one step's send and returns the coordinator with its outcome, or 'done'. */
async function send(svc: PoolService, c: Coordinator, a: CoordSend): Promise<Coordinator | 'done'> {
  const me = svc.me.address;
  const timeout = svc.cfg.forwardTimeoutMs;
  switch (a.type) {
    case 'propose':
      try {
        if (a.self) await acceptProposal(svc, me, true);
        else await svc.callHost(svc.hostByAddress(a.to)!, 'host.propose_new_master', { address: me, manual: true }, timeout);
        return onProposed(c, a.to);
      } catch (err) {
        const failed = onProposeFailed(c, a.to, failureOf(svc, err, a.to));
        svc.log.warn({ msgId: 'POOL_PROPOSAL_REFUSED', host: a.to, failure: failed.failure }, `proposal to ${a.to} failed; aborting`);
        return failed;
      }
    case 'fetch-database':
      await svc.faultPoint('coordinator-after-proposals');
      try {
        const from = svc.hostByAddress(c.oldMaster);
        if (from && from.address !== me) {
          const copy = asDatabase(await svc.callHost(from, 'pool.get_database', {}, timeout));
          if (!copy) throw new CommandError('INTERNAL_ERROR', ['the old master sent no database']);
          await svc.replaceDatabase(copy);
        }
        return onDatabaseFetched(c);
      } catch (err) {
        return onDatabaseFailed(c, failureOf(svc, err, c.oldMaster));
      }
    case 'take-over':
      svc.log.info({ msgId: 'POOL_MASTER_CHANGE_DECIDED', address: me }, 'master change decided: this host is master');
      await svc.faultPoint('coordinator-after-decision');
      return onDecided(c);
    case 'commit':
      try {
        await svc.callHost(svc.hostByAddress(a.to)!, 'host.commit_new_master', { address: me }, timeout);
        return onCommitted(c, a.to);
      } catch (err) {
        const refused = err instanceof CommandError && err.errorName === 'HA_ABORT_NEW_MASTER';
        svc.log.warn({ msgId: 'POOL_COMMIT_FAILED', host: a.to, refused, err: String(err) }, `commit to ${a.to} failed`);
        return onCommitFailed(c, a.to, refused);
      }
    case 'abort':
      try {
        if (a.self) await svc.changeLocal((s) => abortMaster(s, me));
        else await svc.callHost(svc.hostByAddress(a.to)!, 'host.abort_new_master', { address: me }, timeout);
      } catch (err) {
        svc.log.warn({ msgId: 'POOL_ABORT_FAILED', host: a.to, err: String(err) }, `abort to ${a.to} not delivered; its promise will expire`);
      }
      return onAbortSent(c, a.to);
    case 'step-back':
      svc.log.warn({ msgId: 'POOL_MASTER_CHANGE_VOID', oldMaster: c.oldMaster }, `the old master ${c.oldMaster} refused the commit; following it again`);
      throw new CommandError('HA_ABORT_NEW_MASTER', [`the old master ${c.oldMaster} refused the commit`]);
    case 'finished':
      if (a.outcome === 'aborted') {
        svc.log.warn({ msgId: 'POOL_MASTER_CHANGE_ABORTED', failure: a.failure }, 'master change aborted');
        const f = a.failure ?? { error: 'HA_ABORT_NEW_MASTER', params: ['master change aborted'] };
        throw new CommandError(f.error, f.params);
      }
      if (a.unconfirmed.length > 0) {
        const again = retryCommits(c);
        svc.later(svc.cfg.heartbeatIntervalMs, () => void coordinate(svc, again).catch(() => undefined));
      } else {
        svc.log.info({ msgId: 'POOL_MASTER_CHANGE_COMMITTED', address: me }, 'master change committed on every host');
      }
      return 'done';
  }
}

/** host.local_execute: the part of a call that the master sends to the host it concerns. */
export async function executeLocal(svc: PoolService, args: Record<string, unknown>): Promise<unknown> {
  await svc.faultPoint('host-execute');
  switch (args['op']) {
    case 'host.get_servertime':
      return new Date(svc.wallMs()).toISOString();
    case 'VM.start':
    case 'VM.shutdown':
    case 'VM.migrate':
      svc.log.info({ msgId: 'POOL_LOCAL_EXECUTE', op: args['op'], vm: args['vm'] }, `${String(args['op'])} executed on this host`);
      return '';
    case 'pool.designate_new_master':
      if (svc.acting() === 'master') return '';
      await runDesignate(svc);
      return '';
    default:
      throw new CommandError('INVALID_VALUE', ['op', String(args['op'])]);
  }
}
