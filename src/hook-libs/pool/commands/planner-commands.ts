import { value } from '../../../core/commands/answer.ts';
import { CommandError } from '../../../core/errors.ts';
import { get, poolEntry } from '../model/database.ts';
import { evacuationPlan, migrated } from '../model/evacuation.ts';
import { assertPriority } from '../model/operations.ts';
import { maxHostFailuresToTolerate, planForFailures, vmFailoverPlan } from '../model/planner.ts';
import type { DbChange, Ref, RestartPriority } from '../model/records.ts';
import type { PoolPlanner } from '../pool-planner.ts';
import type { PoolService } from '../pool-service.ts';
import { call, type PoolCommand } from './define.ts';

const mod = (cls: 'pool' | 'host' | 'VM' | 'host_metrics', ref: Ref, fields: Record<string, unknown>): DbChange => ({ op: 'mod', class: cls, ref, fields });

/** The planner's XenAPI calls (spec/xapi-ha.md §5.4–5.5) and host.disable / enable / evacuate. */
export function plannerCommands(svc: PoolService, planner: PoolPlanner): PoolCommand[] {
  const poolFields = async (fields: Record<string, unknown>) => {
    await svc.transact((db) => [mod('pool', poolEntry(db)[0], fields)]);
  };
  return [
    call(svc, 'pool.ha_compute_max_host_failures_to_tolerate', 'master-write', async () => {
      const db = svc.db;
      const { max, heuristic } = maxHostFailuresToTolerate(db, planner.liveSet(db));
      const [, pool] = poolEntry(db);
      if (pool.ha_enabled) {
        const target = pool.ha_host_failures_to_tolerate;
        const fields: Record<string, unknown> = {};
        if (pool.ha_overcommitted !== target > max) fields['ha_overcommitted'] = target > max;
        if (pool.ha_plan_exists_for !== Math.min(target, max)) fields['ha_plan_exists_for'] = Math.min(target, max);
        if (Object.keys(fields).length > 0) await poolFields(fields);
      }
      return value(max, `A plan exists for up to ${max} host failures (${heuristic} heuristic).`);
    }),
    call(svc, 'pool.ha_compute_hypothetical_max_host_failures_to_tolerate', 'master-read', (a) => {
      const hypothetical = new Map<Ref, RestartPriority>();
      for (const [vm, p] of Object.entries(a['configuration'] as Record<string, string>)) {
        get(svc.db, 'VM', vm);
        hypothetical.set(vm, assertPriority(p));
      }
      const { max, heuristic } = maxHostFailuresToTolerate(svc.db, planner.liveSet(), { hypothetical });
      return value(max, `A plan would exist for up to ${max} host failures (${heuristic} heuristic).`);
    }),
    call(svc, 'pool.ha_failover_plan_exists', 'master-read', (a) => {
      const n = Number(a['n']);
      const p = planForFailures(svc.db, planner.liveSet(), n);
      return value(p.status === 'Plan_exists_for_all_VMs', `${p.status} for ${n} host failures (${p.heuristic} heuristic).`);
    }),
    call(svc, 'pool.ha_compute_vm_failover_plan', 'master-read', (a) => {
      const failedHosts = (a['failed_hosts'] as string[]);
      const failedVms = (a['failed_vms'] as string[]);
      for (const h of failedHosts) get(svc.db, 'host', h);
      for (const v of failedVms) get(svc.db, 'VM', v);
      return value(vmFailoverPlan(svc.db, planner.liveSet(), failedHosts, failedVms));
    }),
    call(svc, 'pool.set_ha_host_failures_to_tolerate', 'master-write', async (a) => {
      get(svc.db, 'pool', a['self']);
      const n = Number(a['value']);
      if (!Number.isInteger(n) || n < 0) throw new CommandError('INVALID_VALUE', ['ha_host_failures_to_tolerate', String(a['value'])]);
      await svc.transact((db) => {
        const [ref, pool] = poolEntry(db);
        if (pool.ha_enabled && !pool.ha_allow_overcommit && pool.ha_plan_exists_for > 0 &&
          planForFailures(db, planner.liveSet(db), n).status !== 'Plan_exists_for_all_VMs') {
          throw new CommandError('HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN', []);
        }
        return [mod('pool', ref, { ha_host_failures_to_tolerate: n })];
      });
      await planner.recompute('ha_host_failures_to_tolerate changed');
      return value('');
    }),
    call(svc, 'pool.set_ha_allow_overcommit', 'master-write', async (a) => {
      get(svc.db, 'pool', a['self']);
      await poolFields({ ha_allow_overcommit: a['value'] === true });
      await planner.recompute('ha_allow_overcommit changed');
      return value('');
    }),
    call(svc, 'pool.ha_schedule_plan_recomputation', 'master-write', async () => {
      await planner.invalidate('recomputation scheduled');
      return value('');
    }),
    call(svc, 'pool.ha_prevent_restarts_for', 'master-write', (a) => {
      planner.preventRestartsFor(Number(a['seconds']));
      return value('');
    }),
    call(svc, 'host.disable', 'master-write', async (a) => {
      const host = String(a['host']);
      get(svc.db, 'host', host);
      await svc.transact((db) => {
        planner.admit(db, { hostsToDisable: [host] });
        return get(db, 'host', host).enabled ? [mod('host', host, { enabled: false })] : [];
      });
      await planner.invalidate(`host ${host} disabled`);
      return value('');
    }),
    call(svc, 'host.enable', 'master-write', async (a) => {
      const host = String(a['host']);
      await svc.transact((db) => (get(db, 'host', host).enabled ? [] : [mod('host', host, { enabled: true })]));
      await planner.invalidate(`host ${host} enabled`);
      return value('');
    }),
    call(svc, 'host.evacuate', 'master-write', async (a) => {
      const host = String(a['host']);
      get(svc.db, 'host', host);
      const plan = evacuationPlan(svc.db, planner.liveSet(), host);
      planner.admit(svc.db, { hostsToDisable: [host], vmsArriving: plan });
      for (const [vm, target] of plan) {
        await svc.forward(target, { op: 'VM.migrate', vm, from: host });
        await svc.transact((db) => migrated(db, vm, target));
      }
      await planner.invalidate(`host ${host} evacuated`);
      return value('');
    }),
  ];
}
