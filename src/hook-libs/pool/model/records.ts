/**
 * The pool database's record types, spelled with xapi's field names (see spec/xapi-ha.md §0) so
 * that XenAPI clients read them unchanged. PURE: types and constants only.
 */

/** An opaque XenAPI reference (`OpaqueRef:...`). */
export type Ref = string;

export const NULL_REF: Ref = 'OpaqueRef:NULL';

/** The classes this pool models, spelled as XenAPI spells them in method names. */
export type ClassName = 'pool' | 'host' | 'host_metrics' | 'SR' | 'PBD' | 'VM';
export const CLASS_NAMES: readonly ClassName[] = ['pool', 'host', 'host_metrics', 'SR', 'PBD', 'VM'];

export type StringMap = Readonly<Record<string, string>>;

export interface PoolRecord {
  readonly uuid: string;
  readonly name_label: string;
  readonly name_description: string;
  readonly master: Ref;
  readonly other_config: StringMap;
  readonly ha_enabled: boolean;
  readonly ha_configuration: StringMap;
  readonly ha_statefiles: readonly string[];
  readonly ha_host_failures_to_tolerate: number;
  readonly ha_plan_exists_for: number;
  readonly ha_allow_overcommit: boolean;
  readonly ha_overcommitted: boolean;
  readonly ha_cluster_stack: string;
  readonly ha_reboot_vm_on_internal_shutdown: boolean;
  readonly allowed_operations: readonly string[];
  readonly current_operations: StringMap;
}

export interface HostRecord {
  readonly uuid: string;
  readonly name_label: string;
  readonly name_description: string;
  /** Management address; what HOST_IS_SLAVE reports and what the two-phase commit names. */
  readonly address: string;
  readonly hostname: string;
  readonly enabled: boolean;
  readonly metrics: Ref;
  readonly resident_VMs: readonly Ref[];
  readonly PBDs: readonly Ref[];
  readonly ha_statefiles: readonly string[];
  readonly ha_network_peers: readonly string[];
  readonly other_config: StringMap;
}

export interface HostMetricsRecord {
  readonly uuid: string;
  /** "The pool master thinks this host is live." */
  readonly live: boolean;
  /**
   * Wall time (RFC 3339) of the heartbeat at the last change of `live`: the one that made the host
   * live, or, once it is not live, the last one the master received. Later heartbeats are soft state.
   */
  readonly last_updated: string;
  readonly memory_total: number;
  readonly memory_free: number;
  readonly other_config: StringMap;
}

export interface SRRecord {
  readonly uuid: string;
  readonly name_label: string;
  readonly name_description: string;
  readonly type: string;
  readonly content_type: string;
  readonly shared: boolean;
  readonly physical_size: number;
  readonly PBDs: readonly Ref[];
  /** Cluster stacks this SR's type accepts, first preferred; empty = no constraint (xapi keeps this on SM). */
  readonly required_cluster_stack: readonly string[];
  readonly sm_config: StringMap;
  readonly other_config: StringMap;
}

export interface PBDRecord {
  readonly uuid: string;
  readonly host: Ref;
  readonly SR: Ref;
  readonly device_config: StringMap;
  readonly currently_attached: boolean;
  readonly other_config: StringMap;
}

export type PowerState = 'Halted' | 'Running' | 'Paused' | 'Suspended';
export type RestartPriority = 'restart' | 'best-effort' | '';
export const RESTART_PRIORITIES: readonly RestartPriority[] = ['restart', 'best-effort', ''];

export interface VMRecord {
  readonly uuid: string;
  readonly name_label: string;
  readonly name_description: string;
  readonly power_state: PowerState;
  readonly resident_on: Ref;
  readonly memory_static_max: number;
  readonly memory_dynamic_max: number;
  readonly ha_restart_priority: RestartPriority;
  readonly ha_always_run: boolean;
  readonly order: number;
  readonly is_control_domain: boolean;
  readonly other_config: StringMap;
}

export interface RecordOf {
  pool: PoolRecord;
  host: HostRecord;
  host_metrics: HostMetricsRecord;
  SR: SRRecord;
  PBD: PBDRecord;
  VM: VMRecord;
}

export type Table<C extends ClassName> = Readonly<Record<Ref, RecordOf[C]>>;

/** The whole pool database: one table per class plus a generation that counts committed changes. */
export interface Database {
  readonly generation: number;
  readonly tables: { readonly [C in ClassName]: Table<C> };
}

/** One change to one record, as stored in the redo log and reported by `event.from`. */
export type DbChange =
  | { readonly op: 'add'; readonly class: ClassName; readonly ref: Ref; readonly record: RecordOf[ClassName] }
  | { readonly op: 'mod'; readonly class: ClassName; readonly ref: Ref; readonly fields: Readonly<Record<string, unknown>> }
  | { readonly op: 'del'; readonly class: ClassName; readonly ref: Ref };

/** A redo-log record of the pool database: one transaction, applied atomically, at one generation. */
export interface DbRedoRecord {
  readonly kind: 'db';
  readonly generation: number;
  readonly changes: readonly DbChange[];
}

/** Parses a class name case-insensitively (xapi accepts `vm` and `VM`); undefined if unknown. */
export function parseClassName(s: string): ClassName | undefined {
  const lower = s.toLowerCase();
  return CLASS_NAMES.find((c) => c.toLowerCase() === lower);
}
