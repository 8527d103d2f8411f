import { value } from '../../../core/commands/answer.ts';
import { get } from '../model/database.ts';
import { recordHeartbeat } from '../model/liveness.ts';
import { abortMaster, commitMaster } from '../model/local-state.ts';
import { heartbeat } from '../model/operations.ts';
import { acceptProposal, executeLocal } from '../master-change-runner.ts';
import type { PoolService } from '../pool-service.ts';
import { call, type PoolCommand } from './define.ts';

/** host.tickle_heartbeat, the master-change participant calls, and this host's own calls. */
export function hostCommands(svc: PoolService): PoolCommand[] {
  const out: PoolCommand[] = [
    call(svc, 'host.tickle_heartbeat', 'master-read', async (a) => {
      const hostRef = String(a['host']);
      const host = get(svc.db, 'host', hostRef);
      const stuff = a['stuff'] as Record<string, string>;
      const shuttingDown = stuff['shutting-down'] === 'true';
      svc.liveness = recordHeartbeat(svc.liveness, hostRef, svc.handle.clock.monotonicMs(), shuttingDown);
      if (svc.acting() === 'master' && svc.ha.governs() && !shuttingDown) {
        // Liveness comes from the liveset; a heartbeat means the host follows this master again.
        await svc.ha.rejoined(hostRef);
      } else if (svc.acting() === 'master') {
        // (Under HA only a clean shutdown gets here: the host is marked not live before it leaves
        // the liveset, so the restart pass does not report it failed.)
        // Ordered after a sweep being committed (transactIfChanged queues behind it); an empty
        // change is neither written nor queued, so a steady heartbeat costs no fsync.
        let changed = false;
        await svc.transactIfChanged((db) => {
          const changes = heartbeat(db, hostRef, svc.wallMs(), shuttingDown);
          changed = changes.length > 0;
          return changes;
        });
        if (changed) {
          svc.log.info({ msgId: 'POOL_HOST_LIVE', host: host.name_label, live: !shuttingDown }, `host ${host.name_label} is ${shuttingDown ? 'shutting down' : 'live'}`);
          svc.handle.publish('pool-host-live', { host: hostRef, name_label: host.name_label, live: !shuttingDown });
        }
      }
      return value({ generation: String(svc.db.generation) });
    }),
    call(svc, 'host.propose_new_master', 'any-host', async (a) => {
      await acceptProposal(svc, String(a['address']), a['manual'] === true);
      return value('');
    }),
    call(svc, 'host.commit_new_master', 'any-host', async (a) => {
      const address = String(a['address']);
      const before = svc.local.role;
      await svc.changeLocal((s) => commitMaster(s, address, svc.me.address, svc.wallMs(), svc.cfg.proposalTimeoutMs));
      if (svc.local.role !== before) {
        svc.log.info({ msgId: 'POOL_MASTER_COMMITTED', address }, `committed to ${address} as master`);
        await svc.faultPoint('participant-after-commit');
        await svc.onRoleChanged();
      }
      return value('');
    }),
    call(svc, 'host.abort_new_master', 'any-host', async (a) => {
      await svc.changeLocal((s) => abortMaster(s, String(a['address'])));
      return value('');
    }),
    call(svc, 'host.get_servertime', 'master-read', async (a) => {
      get(svc.db, 'host', a['host']);
      return value(await svc.forward(String(a['host']), { op: 'host.get_servertime' }));
    }),
    call(svc, 'host.local_execute', 'any-host', async (a) => value(await executeLocal(svc, a))),
    call(svc, 'host.local_status', 'any-host', () => value(localStatus(svc)), { session: false }),
  ];
  if (svc.handle.faults) {
    out.push(call(svc, 'host.set_fault_point', 'any-host', (a) => {
      svc.faultPoints.set(String(a['point']), Number(a['delay']));
      return value('');
    }, { session: false }));
  }
  return out;
}

/** This host's own view, for operators and tests (also under status-get's "pool" section). */
export function localStatus(svc: PoolService): Record<string, unknown> {
  const p = svc.proposal();
  return {
    host: svc.me.name,
    host_ref: svc.myRef,
    address: svc.me.address,
    role: svc.acting(),
    master_address: svc.masterAddress(),
    ...(svc.management ? { management_url: svc.management.url, management_url_held: svc.management.held } : {}),
    ...(p ? { proposal: { address: p.address, at: new Date(p.wallMs).toISOString() } } : {}),
    ...(svc.local.coordination ? { coordination: svc.local.coordination } : {}),
    generation: svc.db.generation,
    planner: svc.planner.status(),
    ha: svc.ha.status(),
    ...(svc.faultWaiting ? { fault_waiting: svc.faultWaiting } : {}),
  };
}
