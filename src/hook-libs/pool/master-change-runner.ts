import { CommandError } from '../../core/errors.ts';
import { PeerUnreachableError } from '../../core/hooks/hook-library.ts';
import { asDatabase } from './model/database.ts';
import { abortMaster, applyLocal, propose, type LocalStep } from './model/local-state.ts';
import {
  nextAction, onAbortSent, onCommitFailed, onCommitted, onDatabaseFailed, onDatabaseFetched, onDecided, onProposeFailed, onProposed,
  recoverCoordinator, retryCommits, startCoordinator, voidDecision, type Coordinator, type Failure,
} from './model/master-change.ts';
import type { PoolService } from './pool-service.ts';

/**
 * Runs the pure coordinator of a master change (model/master-change.ts) against the other hosts,
 * and the participant side of this host's own proposal. Every proposal, decision and promise is
 * persisted through `svc.changeLocal` before the next message goes out.
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

/** Becomes master by two-phase commit; resolves when committed, rejects with the failure after aborting. */
export async function runDesignate(svc: PoolService): Promise<void> {
  if (svc.local.coordination) throw new CommandError('DESIGNATE_NEW_MASTER_IN_PROGRESS', []);
  const oldMaster = svc.masterAddress();
  const { coordinator, record } = startCoordinator(svc.me.address, svc.cfg.hosts.map((h) => h.address), oldMaster, svc.wallMs());
  await svc.changeLocal((s) => ({ state: applyLocal(s, record), records: [record] }));
  svc.log.info({ msgId: 'POOL_MASTER_CHANGE_START', address: svc.me.address }, `proposing ${svc.me.address} as the new master`);
  await drive(svc, coordinator);
}

/** After a restart: finish (decided) or abort (undecided) a master change this host coordinated. */
export function resumeCoordination(svc: PoolService): void {
  const c = svc.local.coordination;
  if (!c) return;
  svc.log.warn({ msgId: 'POOL_MASTER_CHANGE_RECOVER', decided: c.decided }, c.decided ? 'resending commits of a decided master change' : 'aborting an undecided master change');
  void drive(svc, recoverCoordinator(c)).catch((err) => {
    svc.log.warn({ msgId: 'POOL_MASTER_CHANGE_ABORTED', err: String(err) }, 'recovered master change ended without commit');
  });
}

async function drive(svc: PoolService, start: Coordinator): Promise<void> {
  let c = start;
  const me = svc.me.address;
  const oldMaster = c.oldMaster;
  const timeout = svc.cfg.forwardTimeoutMs;
  for (;;) {
    if (svc.stopped) return;
    const back = voidDecision(c);
    if (back) {
      await svc.changeLocal((s) => ({ state: back.reduce(applyLocal, s), records: back }));
      svc.log.warn({ msgId: 'POOL_MASTER_CHANGE_VOID', oldMaster }, `the old master ${oldMaster} refused the commit; following it again`);
      await svc.onRoleChanged();
      throw new CommandError('HA_ABORT_NEW_MASTER', [`the old master ${oldMaster} refused the commit`]);
    }
    const a = nextAction(c);
    switch (a.type) {
      case 'propose':
        try {
          if (a.self) await acceptProposal(svc, me, true);
          else await svc.callHost(svc.hostByAddress(a.to)!, 'host.propose_new_master', { address: me, manual: true }, timeout);
          c = onProposed(c, a.to);
        } catch (err) {
          c = onProposeFailed(c, a.to, failureOf(svc, err, a.to));
          svc.log.warn({ msgId: 'POOL_PROPOSAL_REFUSED', host: a.to, failure: c.failure }, `proposal to ${a.to} failed; aborting`);
        }
        break;
      case 'fetch-database':
        await svc.faultPoint('coordinator-after-proposals');
        try {
          const from = svc.hostByAddress(oldMaster);
          if (from && from.address !== me) {
            const copy = asDatabase(await svc.callHost(from, 'pool.get_database', {}, timeout));
            if (!copy) throw new CommandError('INTERNAL_ERROR', ['the old master sent no database']);
            await svc.replaceDatabase(copy);
          }
          c = onDatabaseFetched(c);
        } catch (err) {
          c = onDatabaseFailed(c, failureOf(svc, err, oldMaster));
        }
        break;
      case 'decide':
        await svc.changeLocal((s): LocalStep => ({ state: a.records.reduce(applyLocal, s), records: a.records }));
        svc.log.info({ msgId: 'POOL_MASTER_CHANGE_DECIDED', address: me }, 'master change decided: this host is master');
        c = onDecided(c);
        await svc.onRoleChanged();
        await svc.faultPoint('coordinator-after-decision');
        break;
      case 'commit':
        try {
          await svc.callHost(svc.hostByAddress(a.to)!, 'host.commit_new_master', { address: me }, timeout);
          const done = onCommitted(c, a.to);
          c = done.coordinator;
          const record = done.record;
          if (record) {
            await svc.changeLocal((s) => ({ state: applyLocal(s, record), records: [record] }));
            await svc.onRoleChanged();
          }
        } catch (err) {
          const refused = err instanceof CommandError && err.errorName === 'HA_ABORT_NEW_MASTER';
          c = onCommitFailed(c, a.to, refused);
          svc.log.warn({ msgId: 'POOL_COMMIT_FAILED', host: a.to, refused, err: String(err) }, `commit to ${a.to} failed`);
        }
        break;
      case 'abort':
        try {
          if (a.self) await svc.changeLocal((s) => abortMaster(s, me));
          else await svc.callHost(svc.hostByAddress(a.to)!, 'host.abort_new_master', { address: me }, timeout);
        } catch (err) {
          svc.log.warn({ msgId: 'POOL_ABORT_FAILED', host: a.to, err: String(err) }, `abort to ${a.to} not delivered; its promise will expire`);
        }
        c = onAbortSent(c, a.to);
        break;
      case 'finished': {
        const records = a.records;
        if (records.length > 0) await svc.changeLocal((s) => ({ state: records.reduce(applyLocal, s), records }));
        if (a.outcome === 'aborted') {
          svc.log.warn({ msgId: 'POOL_MASTER_CHANGE_ABORTED', failure: a.failure }, 'master change aborted');
          const f = a.failure ?? { error: 'HA_ABORT_NEW_MASTER', params: ['master change aborted'] };
          throw new CommandError(f.error, f.params);
        }
        if (a.unconfirmed.length > 0) {
          const again = retryCommits(c);
          svc.handle.clock.setTimer(svc.cfg.heartbeatIntervalMs, () => void drive(svc, again).catch(() => undefined));
        } else {
          svc.log.info({ msgId: 'POOL_MASTER_CHANGE_COMMITTED', address: me }, 'master change committed on every host');
        }
        return;
      }
    }
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
