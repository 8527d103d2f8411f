import { value } from '../../../core/commands/answer.ts';
import { randomUUID } from 'node:crypto';
import { get } from '../model/database.ts';
import {
  assertCanShutdown, assertCanStart, chooseHost, pbdCreate, pbdDestroy, pbdPlug, pbdUnplug, srCreate, srDestroy, srIntroduce, vmCreate, vmDestroy,
  vmHalted, vmSetOrder, vmSetRestartPriority, vmStarted, type SrArgs, type VmArgs,
} from '../model/operations.ts';
import { isLive } from '../model/database.ts';
import type { Database, StringMap } from '../model/records.ts';
import type { PoolService } from '../pool-service.ts';
import { call, type PoolCommand } from './define.ts';

const uuid = (): string => randomUUID();

function srArgs(svc: PoolService, a: Record<string, unknown>): SrArgs {
  const type = String(a['type']);
  return {
    name_label: String(a['name_label']), name_description: String(a['name_description']), type, content_type: String(a['content_type']),
    shared: a['shared'] === true, physical_size: Number(a['physical_size'] ?? 0), sm_config: (a['sm_config'] ?? {}) as StringMap,
    required_cluster_stack: svc.cfg.srTypes[type] ?? [],
  };
}

/** SR, PBD and VM calls. VM start/shutdown run on the VM's host first, then the records change. */
export function vmCommands(svc: PoolService): PoolCommand[] {
  const done = async (p: Promise<unknown>) => {
    await p;
    return value('');
  };
  return [
    call(svc, 'SR.create', 'master-write', async (a) => {
      let created = '';
      await svc.transact((db) => {
        const r = srCreate(db, String(a['host']), srArgs(svc, a), (a['device_config'] ?? {}) as StringMap, uuid);
        created = r.ref;
        return r.changes;
      });
      return value(created);
    }),
    call(svc, 'SR.introduce', 'master-write', async (a) => {
      const id = String(a['uuid']);
      await svc.transact((db) => {
        if (db.tables.SR[`OpaqueRef:${id}`]) return [];
        return srIntroduce(id, srArgs(svc, a));
      });
      return value(`OpaqueRef:${id}`);
    }),
    call(svc, 'SR.destroy', 'master-write', async (a) => {
      await svc.transact((db) => srDestroy(db, String(a['sr'])));
      return value('');
    }),
    call(svc, 'PBD.create', 'master-write', async (a) => {
      const r = a['args'] as { host: string; SR: string; device_config?: StringMap; other_config?: StringMap };
      let created = '';
      await svc.transact((db) => {
        const c = pbdCreate(db, r.host, r.SR, r.device_config ?? {}, r.other_config ?? {}, uuid());
        created = c.ref;
        return c.changes;
      });
      return value(created);
    }),
    call(svc, 'PBD.destroy', 'master-write', async (a) => done(svc.transact((db) => pbdDestroy(db, String(a['self']))))),
    call(svc, 'PBD.plug', 'master-write', async (a) => done(svc.transact((db) => pbdPlug(db, String(a['self']))))),
    call(svc, 'PBD.unplug', 'master-write', async (a) => done(svc.transact((db) => pbdUnplug(db, String(a['self']))))),
    call(svc, 'VM.create', 'master-write', async (a) => {
      let created = '';
      await svc.transact(() => {
        const c = vmCreate(a['args'] as VmArgs, uuid());
        created = c.ref;
        return c.changes;
      });
      return value(created);
    }),
    call(svc, 'VM.destroy', 'master-write', async (a) => done(svc.transact((db) => vmDestroy(db, String(a['self']))))),
    call(svc, 'VM.set_ha_restart_priority', 'master-write', async (a) => {
      const vm = String(a['self']);
      await svc.transact((db) => {
        const changes = vmSetRestartPriority(db, vm, String(a['value']));
        // Making a running VM protected must keep the plan (xapi: assert_new_vm_preserves_ha_plan).
        if (a['value'] === 'restart' && get(db, 'VM', vm).power_state !== 'Halted') svc.planner.admit(db, { vmsToProtect: [vm] });
        return changes;
      });
      await svc.planner.invalidate(`restart priority of ${vm} changed`);
      return value('');
    }),
    call(svc, 'VM.set_order', 'master-write', async (a) => done(svc.transact((db) => vmSetOrder(db, String(a['self']), Number(a['value']))))),
    call(svc, 'VM.start', 'master-write', async (a) => {
      const vm = String(a['vm']);
      const host = chooseHost(svc.db, vm, (h) => isLive(svc.db, h));
      return startOn(svc, vm, host, a['start_paused'] === true);
    }),
    call(svc, 'VM.start_on', 'master-write', async (a) => {
      get(svc.db, 'host', a['host']);
      return startOn(svc, String(a['vm']), String(a['host']), a['start_paused'] === true);
    }),
    call(svc, 'VM.shutdown', 'master-write', async (a) => {
      const vm = String(a['vm']);
      const host = assertCanShutdown(svc.db, vm);
      await svc.forward(host, { op: 'VM.shutdown', vm });
      await svc.transact((db) => vmHalted(db, vm));
      await svc.planner.invalidate(`VM ${vm} shut down`);
      return value('');
    }),
  ];
}

async function startOn(svc: PoolService, vm: string, host: string, paused: boolean) {
  assertCanStart(svc.db, vm, host);
  admitStart(svc, svc.db, vm, host);
  await svc.forward(host, { op: 'VM.start', vm });
  await svc.transact((db) => {
    admitStart(svc, db, vm, host);
    return vmStarted(db, vm, host, paused);
  });
  await svc.planner.invalidate(`VM ${vm} started`);
  return value('');
}

/** Admission control for a start: the VM's memory arrives on `host`; a `restart` VM becomes protected. */
function admitStart(svc: PoolService, db: Database, vm: string, host: string): void {
  const rec = get(db, 'VM', vm);
  const protect = rec.ha_restart_priority === 'restart' && !rec.ha_always_run;
  svc.planner.admit(db, { vmsArriving: new Map([[vm, host]]), ...(protect ? { vmsToProtect: [vm] } : {}) });
}
