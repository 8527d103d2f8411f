import { CommandError } from '../../../core/errors.ts';
import { entries, find, get, poolEntry } from './database.ts';
import { assertStackCompatible } from '../ha/enable-checks.ts';
import type {
  Database, DbChange, HostMetricsRecord, HostRecord, PBDRecord, PoolRecord, Ref, RestartPriority, SRRecord, StringMap, VMRecord,
} from './records.ts';
import { NULL_REF, RESTART_PRIORITIES } from './records.ts';

/**
 * Record operations as pure functions: (database, arguments, fresh ids) → the transaction to
 * commit, or a CommandError that changes nothing. Fresh UUIDs come in through `newUuid` so tests
 * are deterministic and the shell owns randomness.
 */

export type NewUuid = () => string;
export const refFor = (uuid: string): Ref => `OpaqueRef:${uuid}`;

export interface HostSpec {
  readonly name: string;
  readonly address: string;
  readonly memoryTotal: number;
}

/** A stable UUID-shaped id from a text (FNV-1a), so every host bootstraps identical refs for the same config. */
export function stableUuid(text: string): string {
  const hex: string[] = [];
  for (let round = 0; round < 4; round++) {
    let h = 0x811c9dc5 ^ round;
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
    hex.push(h.toString(16).padStart(8, '0'));
  }
  const s = hex.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-4${s.slice(13, 16)}-a${s.slice(17, 20)}-${s.slice(20, 32)}`;
}

export const hostRefOf = (poolName: string, hostName: string): Ref => refFor(stableUuid(`host/${poolName}/${hostName}`));

/** The first transaction of a new pool: the pool record, and a host + host_metrics per configured host. */
export function bootstrap(poolName: string, hosts: readonly HostSpec[], masterName: string, wallMs: number): DbChange[] {
  const poolUuid = stableUuid(`pool/${poolName}`);
  const changes: DbChange[] = [];
  const stamp = new Date(wallMs).toISOString();
  for (const h of hosts) {
    const uuid = stableUuid(`host/${poolName}/${h.name}`);
    const metricsUuid = stableUuid(`host_metrics/${poolName}/${h.name}`);
    const host: HostRecord = {
      uuid, name_label: h.name, name_description: '', address: h.address, hostname: h.name, enabled: true,
      metrics: refFor(metricsUuid), resident_VMs: [], PBDs: [], ha_statefiles: [], ha_network_peers: [], other_config: {},
    };
    const metrics: HostMetricsRecord = {
      uuid: metricsUuid, live: h.name === masterName, last_updated: stamp, memory_total: h.memoryTotal, memory_free: h.memoryTotal, other_config: {},
    };
    changes.push({ op: 'add', class: 'host', ref: refFor(uuid), record: host });
    changes.push({ op: 'add', class: 'host_metrics', ref: refFor(metricsUuid), record: metrics });
  }
  const pool: PoolRecord = {
    uuid: poolUuid, name_label: poolName, name_description: '', master: hostRefOf(poolName, masterName), other_config: {},
    ha_enabled: false, ha_configuration: {}, ha_statefiles: [], ha_host_failures_to_tolerate: 0, ha_plan_exists_for: 0,
    ha_allow_overcommit: false, ha_overcommitted: false, ha_cluster_stack: '', ha_reboot_vm_on_internal_shutdown: true,
    allowed_operations: [], current_operations: {},
  };
  changes.unshift({ op: 'add', class: 'pool', ref: refFor(poolUuid), record: pool });
  return changes;
}

const mod = (cls: DbChange['class'], ref: Ref, fields: Record<string, unknown>): DbChange => ({ op: 'mod', class: cls, ref, fields });

/** Makes `hostRef` the pool master; the master always counts itself live. */
export function setMaster(db: Database, hostRef: Ref, wallMs: number): DbChange[] {
  const host = get(db, 'host', hostRef);
  const [poolRef, pool] = poolEntry(db);
  const changes: DbChange[] = [];
  if (pool.master !== hostRef) changes.push(mod('pool', poolRef, { master: hostRef }));
  changes.push(mod('host_metrics', host.metrics, { live: true, last_updated: new Date(wallMs).toISOString() }));
  return changes;
}

/** Sets `host_metrics.live`; empty when it already has that value. */
export function setLive(db: Database, hostRef: Ref, live: boolean): DbChange[] {
  const host = get(db, 'host', hostRef);
  const m = find(db, 'host_metrics', host.metrics);
  return m && m.live !== live ? [mod('host_metrics', host.metrics, { live })] : [];
}

/**
 * A heartbeat arrived: live again unless the host says it is shutting down. Only a change of
 * `live` is a database change (with the heartbeat's time in `last_updated`); a heartbeat from a
 * host already live changes nothing durable — its time is soft state (model/liveness.ts).
 */
export function heartbeat(db: Database, hostRef: Ref, wallMs: number, shuttingDown: boolean): DbChange[] {
  const host = get(db, 'host', hostRef);
  const m = find(db, 'host_metrics', host.metrics);
  if (m && m.live === !shuttingDown) return [];
  return [mod('host_metrics', host.metrics, { last_updated: new Date(wallMs).toISOString(), live: !shuttingDown })];
}

// ---- SR and PBD ----

/** What SR.create / SR.introduce take: the SR record without its identity, PBDs and other_config. */
export type SrArgs = Omit<SRRecord, 'uuid' | 'PBDs' | 'other_config'>;

/** SR.introduce: the SR record only. */
export function srIntroduce(uuid: string, a: SrArgs): DbChange[] {
  const sr: SRRecord = { uuid, ...a, PBDs: [], other_config: {} };
  return [{ op: 'add', class: 'SR', ref: refFor(uuid), record: sr }];
}

/** SR.create: the SR plus plugged PBDs — on every host when shared, else on `hostRef`. */
export function srCreate(db: Database, hostRef: Ref, a: SrArgs, deviceConfig: StringMap, newUuid: NewUuid): { ref: Ref; changes: DbChange[] } {
  get(db, 'host', hostRef);
  const uuid = newUuid();
  const srRef = refFor(uuid);
  const hosts = a.shared ? entries(db, 'host').map(([r]) => r) : [hostRef];
  for (const h of hosts) assertStackCompatible(db, a.required_cluster_stack, h);
  const pbdRefs: Ref[] = [];
  const changes: DbChange[] = [];
  for (const h of hosts) {
    const pu = newUuid();
    pbdRefs.push(refFor(pu));
    const pbd: PBDRecord = { uuid: pu, host: h, SR: srRef, device_config: deviceConfig, currently_attached: true, other_config: {} };
    changes.push({ op: 'add', class: 'PBD', ref: refFor(pu), record: pbd });
    changes.push(mod('host', h, { PBDs: [...get(db, 'host', h).PBDs, refFor(pu)] }));
  }
  const sr: SRRecord = { uuid, ...a, PBDs: pbdRefs, other_config: {} };
  changes.unshift({ op: 'add', class: 'SR', ref: srRef, record: sr });
  return { ref: srRef, changes };
}

export function srDestroy(db: Database, srRef: Ref): DbChange[] {
  const sr = get(db, 'SR', srRef);
  if (sr.PBDs.length > 0) throw new CommandError('SR_HAS_PBD', [srRef]);
  return [{ op: 'del', class: 'SR', ref: srRef }];
}

export function pbdCreate(db: Database, hostRef: Ref, srRef: Ref, deviceConfig: StringMap, otherConfig: StringMap, uuid: string): { ref: Ref; changes: DbChange[] } {
  const host = get(db, 'host', hostRef);
  const sr = get(db, 'SR', srRef);
  const existing = sr.PBDs.find((p) => find(db, 'PBD', p)?.host === hostRef);
  if (existing !== undefined) throw new CommandError('PBD_EXISTS', [srRef, hostRef, existing]);
  const ref = refFor(uuid);
  const pbd: PBDRecord = { uuid, host: hostRef, SR: srRef, device_config: deviceConfig, currently_attached: false, other_config: otherConfig };
  return {
    ref,
    changes: [
      { op: 'add', class: 'PBD', ref, record: pbd },
      mod('SR', srRef, { PBDs: [...sr.PBDs, ref] }),
      mod('host', hostRef, { PBDs: [...host.PBDs, ref] }),
    ],
  };
}

export function pbdDestroy(db: Database, pbdRef: Ref): DbChange[] {
  const pbd = get(db, 'PBD', pbdRef);
  if (pbd.currently_attached) throw new CommandError('OPERATION_NOT_ALLOWED', ['PBD is currently attached; unplug it first']);
  const changes: DbChange[] = [{ op: 'del', class: 'PBD', ref: pbdRef }];
  const sr = find(db, 'SR', pbd.SR);
  if (sr) changes.push(mod('SR', pbd.SR, { PBDs: sr.PBDs.filter((p) => p !== pbdRef) }));
  const host = find(db, 'host', pbd.host);
  if (host) changes.push(mod('host', pbd.host, { PBDs: host.PBDs.filter((p) => p !== pbdRef) }));
  return changes;
}

/**
 * PBD.plug: while HA runs on a cluster stack the SR must accept that stack, and an SR never plugs
 * beside an attached SR that requires a different stack (INCOMPATIBLE_CLUSTER_STACK_ACTIVE).
 */
export function pbdPlug(db: Database, pbdRef: Ref): DbChange[] {
  const pbd = get(db, 'PBD', pbdRef);
  const sr = get(db, 'SR', pbd.SR);
  if (pbd.currently_attached) return [];
  assertStackCompatible(db, sr.required_cluster_stack, pbd.host, pbd.SR);
  return [mod('PBD', pbdRef, { currently_attached: true })];
}

export function pbdUnplug(db: Database, pbdRef: Ref): DbChange[] {
  const pbd = get(db, 'PBD', pbdRef);
  return pbd.currently_attached ? [mod('PBD', pbdRef, { currently_attached: false })] : [];
}

// ---- VM ----

export interface VmArgs {
  readonly name_label: string;
  readonly name_description?: string;
  readonly memory_static_max: number;
  readonly memory_dynamic_max?: number;
  readonly ha_restart_priority?: string;
  readonly order?: number;
  readonly other_config?: StringMap;
}

export function assertPriority(value: string): RestartPriority {
  if (!(RESTART_PRIORITIES as readonly string[]).includes(value)) throw new CommandError('INVALID_VALUE', ['ha_restart_priority', value]);
  return value as RestartPriority;
}

export function vmCreate(a: VmArgs, uuid: string): { ref: Ref; changes: DbChange[] } {
  const vm: VMRecord = {
    uuid, name_label: a.name_label, name_description: a.name_description ?? '', power_state: 'Halted', resident_on: NULL_REF,
    memory_static_max: a.memory_static_max, memory_dynamic_max: a.memory_dynamic_max ?? a.memory_static_max,
    ha_restart_priority: assertPriority(a.ha_restart_priority ?? ''), ha_always_run: false, order: a.order ?? 0,
    is_control_domain: false, other_config: a.other_config ?? {},
  };
  return { ref: refFor(uuid), changes: [{ op: 'add', class: 'VM', ref: refFor(uuid), record: vm }] };
}

export function vmDestroy(db: Database, vmRef: Ref): DbChange[] {
  const vm = get(db, 'VM', vmRef);
  if (vm.power_state !== 'Halted') throw new CommandError('VM_BAD_POWER_STATE', [vmRef, 'halted', vm.power_state.toLowerCase()]);
  return [{ op: 'del', class: 'VM', ref: vmRef }];
}

export function vmSetRestartPriority(db: Database, vmRef: Ref, value: string): DbChange[] {
  const vm = get(db, 'VM', vmRef);
  const p = assertPriority(value);
  const fields: Record<string, unknown> = { ha_restart_priority: p };
  if (vm.power_state === 'Running') fields['ha_always_run'] = p === 'restart';
  return [mod('VM', vmRef, fields)];
}

export function vmSetOrder(db: Database, vmRef: Ref, value: number): DbChange[] {
  get(db, 'VM', vmRef);
  return [mod('VM', vmRef, { order: value })];
}

/** Memory still free on a host: total minus what its resident VMs may use (static-max policy, as the planner). */
export function freeMemory(db: Database, hostRef: Ref): number {
  const host = get(db, 'host', hostRef);
  const total = find(db, 'host_metrics', host.metrics)?.memory_total ?? 0;
  return host.resident_VMs.reduce((free, v) => free - (find(db, 'VM', v)?.memory_static_max ?? 0), total);
}

/** Checks VM.start_on before anything runs on the host (power state, memory); throws or returns nothing. */
export function assertCanStart(db: Database, vmRef: Ref, hostRef: Ref): void {
  const vm = get(db, 'VM', vmRef);
  get(db, 'host', hostRef);
  if (vm.power_state !== 'Halted') throw new CommandError('VM_BAD_POWER_STATE', [vmRef, 'halted', vm.power_state.toLowerCase()]);
  const free = freeMemory(db, hostRef);
  if (vm.memory_static_max > free) throw new CommandError('HOST_NOT_ENOUGH_FREE_MEMORY', [String(vm.memory_static_max), String(free)]);
}

/** The records after a VM started on a host; `ha_always_run` follows the restart priority as in xapi. */
export function vmStarted(db: Database, vmRef: Ref, hostRef: Ref, paused: boolean): DbChange[] {
  assertCanStart(db, vmRef, hostRef);
  const vm = get(db, 'VM', vmRef);
  const host = get(db, 'host', hostRef);
  return [
    mod('VM', vmRef, { power_state: paused ? 'Paused' : 'Running', resident_on: hostRef, ha_always_run: vm.ha_restart_priority === 'restart' }),
    mod('host', hostRef, { resident_VMs: [...host.resident_VMs, vmRef] }),
    mod('host_metrics', host.metrics, { memory_free: freeMemory(db, hostRef) - vm.memory_static_max }),
  ];
}

/** Checks VM.shutdown: the VM must be running somewhere; returns the host it runs on. */
export function assertCanShutdown(db: Database, vmRef: Ref): Ref {
  const vm = get(db, 'VM', vmRef);
  if (vm.power_state === 'Halted' || vm.power_state === 'Suspended') {
    throw new CommandError('VM_BAD_POWER_STATE', [vmRef, 'running', vm.power_state.toLowerCase()]);
  }
  return vm.resident_on;
}

export function vmHalted(db: Database, vmRef: Ref): DbChange[] {
  const vm = get(db, 'VM', vmRef);
  const changes: DbChange[] = [mod('VM', vmRef, { power_state: 'Halted', resident_on: NULL_REF, ha_always_run: false })];
  const host = find(db, 'host', vm.resident_on);
  if (host) {
    changes.push(mod('host', vm.resident_on, { resident_VMs: host.resident_VMs.filter((v) => v !== vmRef) }));
    changes.push(mod('host_metrics', host.metrics, { memory_free: freeMemory(db, vm.resident_on) + vm.memory_static_max }));
  }
  return changes;
}

/** Picks a host for VM.start: live hosts in ref order with the most free memory first. */
export function chooseHost(db: Database, vmRef: Ref, isLive: (hostRef: Ref) => boolean): Ref {
  const vm = get(db, 'VM', vmRef);
  if (vm.power_state !== 'Halted') throw new CommandError('VM_BAD_POWER_STATE', [vmRef, 'halted', vm.power_state.toLowerCase()]);
  const candidates = entries(db, 'host')
    .filter(([r, h]) => h.enabled && isLive(r))
    .map(([r]) => ({ r, free: freeMemory(db, r) }))
    .sort((a, b) => b.free - a.free);
  const best = candidates[0];
  if (!best || best.free < vm.memory_static_max) {
    throw new CommandError('HOST_NOT_ENOUGH_FREE_MEMORY', [String(vm.memory_static_max), String(best?.free ?? 0)]);
  }
  return best.r;
}
