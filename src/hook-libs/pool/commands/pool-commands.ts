import { value } from '../../../core/commands/answer.ts';
import { CommandError } from '../../../core/errors.ts';
import { get, poolEntry } from '../model/database.ts';
import { emergencyReset, emergencyTransition } from '../model/local-state.ts';
import type { PoolService } from '../pool-service.ts';
import { call, type PoolCommand } from './define.ts';
import { assertNoPoolOperation } from '../ha/enable-checks.ts';

/** pool.designate_new_master, the emergency calls and pool.get_database. */
export function poolCommands(svc: PoolService): PoolCommand[] {
  return [
    call(svc, 'pool.designate_new_master', 'master-write', async (a) => {
      const hostRef = String(a['host']);
      get(svc.db, 'host', hostRef);
      if (hostRef === svc.myRef) return value('');
      if (poolEntry(svc.db)[1].ha_enabled) throw new CommandError('HA_IS_ENABLED', []);
      assertNoPoolOperation(svc.ha.operation);
      if (svc.designating) throw new CommandError('DESIGNATE_NEW_MASTER_IN_PROGRESS', []);
      svc.designating = true;
      try {
        // The target runs the whole two-phase commit; give it time for every round trip.
        const bound = svc.cfg.forwardTimeoutMs * (3 * svc.cfg.hosts.length + 2);
        await svc.forward(hostRef, { op: 'pool.designate_new_master' }, bound);
      } finally {
        svc.designating = false;
      }
      return value('');
    }),
    call(svc, 'pool.emergency_transition_to_master', 'any-host', async () => {
      if (svc.local.role.kind === 'master' && svc.proposal() === undefined) return value('');
      // xapi checks the local ha.armed here: under HA the master lock, not an operator, picks the master.
      if (svc.local.ha?.armed || (svc.db.tables.pool && Object.values(svc.db.tables.pool)[0]?.ha_enabled)) throw new CommandError('HA_IS_ENABLED', []);
      await svc.changeLocal((s) => emergencyTransition(s));
      svc.log.warn({ msgId: 'POOL_EMERGENCY_MASTER', host: svc.me.name }, `${svc.me.name} became master by emergency transition`);
      await svc.onRoleChanged();
      return value('');
    }),
    call(svc, 'pool.emergency_reset_master', 'any-host', async (a) => {
      const address = String(a['master_address']);
      if (!svc.hostByAddress(address)) throw new CommandError('INVALID_VALUE', ['master_address', address]);
      const before = svc.local.role;
      await svc.changeLocal((s) => emergencyReset(s, address, svc.me.address));
      if (svc.local.role !== before) await svc.onRoleChanged();
      return value('');
    }),
    call(svc, 'pool.recover_slaves', 'master-write', async () => {
      const recovered: string[] = [];
      await Promise.all(svc.cfg.hosts.filter((h) => h.name !== svc.me.name).map(async (h) => {
        try {
          await svc.callHost(h, 'pool.emergency_reset_master', { master_address: svc.me.address }, svc.cfg.forwardTimeoutMs);
          const ref = svc.hostRefByAddress(h.address);
          if (ref) recovered.push(ref);
        } catch (err) {
          svc.log.warn({ msgId: 'POOL_RECOVER_SLAVE_FAILED', host: h.name, err: String(err) }, `could not recover ${h.name}`);
        }
      }));
      return value(recovered.sort());
    }),
    call(svc, 'pool.get_database', 'master-read', () => value(svc.db)),
  ];
}
