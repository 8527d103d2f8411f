import { value } from '../../../core/commands/answer.ts';
import { CommandError } from '../../../core/errors.ts';
import { get, poolEntry } from '../model/database.ts';
import type { PoolService } from '../pool-service.ts';
import { call, type PoolCommand } from './define.ts';

/**
 * Pool HA calls (spec/xapi-ha.md §1): pool.enable_ha / disable_ha on the master, the pool-internal
 * host.* calls the master makes on every host (each idempotent), host.emergency_ha_disable, the
 * xhad network heartbeat, and a testing fault.
 */
export function haCommands(svc: PoolService): PoolCommand[] {
  const ha = svc.ha;
  const out: PoolCommand[] = [
    call(svc, 'pool.enable_ha', 'master-write', async (a) => {
      await ha.enable({
        heartbeatSrs: (a['heartbeat_srs'] as string[] | undefined) ?? [],
        configuration: (a['configuration'] as Record<string, string> | undefined) ?? {},
        clusterStack: String(a['cluster_stack'] ?? ''),
      });
      return value('');
    }),
    call(svc, 'pool.disable_ha', 'master-write', async () => {
      await ha.disable();
      return value('');
    }),
    call(svc, 'pool.get_ha_cluster_stack', 'master-read', (a) => {
      const [ref, pool] = poolEntry(svc.db);
      if (a['self'] !== undefined) get(svc.db, 'pool', a['self']);
      return value(pool.ha_cluster_stack, `pool ${ref}`);
    }),
    call(svc, 'host.preconfigure_ha', 'any-host', async (a) => {
      await ha.preconfigure({
        stack: String(a['stack']), generation: String(a['generation']), timeout_ms: Number(a['timeout_ms']),
        device_config: (a['device_config'] ?? {}) as Record<string, string>,
      });
      return value('');
    }),
    call(svc, 'host.ha_join_liveset', 'any-host', async () => {
      await ha.joinLiveset();
      return value('');
    }),
    call(svc, 'host.ha_disable_failover_decisions', 'any-host', async () => {
      await ha.disableFailoverDecisions();
      return value('');
    }),
    call(svc, 'host.ha_disarm_fencing', 'any-host', () => {
      ha.disarmFencing();
      return value('');
    }),
    call(svc, 'host.ha_stop_daemon', 'any-host', async () => {
      await ha.stopDaemon();
      return value('');
    }),
    call(svc, 'host.ha_release_resources', 'any-host', async () => {
      await ha.releaseLocal();
      return value('');
    }),
    call(svc, 'host.ha_wait_for_shutdown_via_statefile', 'any-host', async () => {
      await ha.waitForShutdown();
      return value('');
    }),
    call(svc, 'host.emergency_ha_disable', 'any-host', async (a) => {
      await ha.emergencyDisable(a['soft'] === true);
      return value('');
    }),
    call(svc, 'host.ha_heartbeat', 'any-host', (a) => {
      ha.stack?.receive?.(a['message']);
      return value('');
    }, { session: false }),
  ];
  if (svc.handle.faults) {
    out.push(call(svc, 'host.ha_fault', 'any-host', (a) => {
      const fault = String(a['fault']) as 'medium-cut' | 'medium-heal' | 'freeze' | 'thaw';
      if (!ha.stack?.setFault) throw new CommandError('HA_NOT_ENABLED', [], 'no cluster stack runs on this host');
      ha.stack.setFault(fault);
      return value('');
    }, { session: false }));
  }
  return out;
}
