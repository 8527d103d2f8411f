/**
 * The one error catalogue. Every error that crosses the wire has a stable UPPER_SNAKE name and
 * string parameters, exactly as XenAPI reports errors (`{code: 1, message: NAME, data: params}` on
 * JSON-RPC) and a Kea result code plus text on the Kea control channel. Libraries add their names
 * here rather than inventing codes of their own, so clients see one vocabulary.
 */

/** Kea's control-channel result codes. */
export const RESULT = {
  SUCCESS: 0,
  ERROR: 1,
  UNSUPPORTED: 2,
  EMPTY: 3,
  CONFLICT: 4,
  /** Kea HA's HA_CONTROL_RESULT_MAINTENANCE_NOT_ALLOWED (ha-maintenance-notify refused). */
  HA_MAINTENANCE_NOT_ALLOWED: 1001,
} as const;
export type ResultCode = (typeof RESULT)[keyof typeof RESULT];

interface CatalogueEntry {
  readonly result: ResultCode;
  /** Human text from the parameters; the Kea channel shows it, JSON-RPC puts the params in `data`. */
  readonly text: (params: readonly string[]) => string;
}

const plain = (summary: string): CatalogueEntry => ({
  result: RESULT.ERROR,
  text: (p) => (p.length > 0 ? `${summary}: ${p.join(', ')}` : summary),
});

export const ERROR_CATALOGUE = {
  // core
  // BaseCommandMgr::handleCommand (Kea 2.2), with its period.
  COMMAND_UNSUPPORTED: { result: RESULT.UNSUPPORTED, text: (p) => `'${p[0] ?? ''}' command not supported.` },
  INVALID_ARGUMENTS: plain('invalid arguments'),
  INTERNAL_ERROR: plain('internal error'),
  CONFIG_INVALID: plain('configuration is invalid'),
  SUBSCRIPTION_NEEDS_WEBSOCKET: plain('event subscriptions need a WebSocket connection on /ws'),
  FAULT_INJECTION_DISABLED: plain('fault injection is not enabled in this configuration (testing: fault-injection: true)'),
  SHUTTING_DOWN: plain('server is shutting down'),
  /** params: [the limit's key under server.limits (or the library's), its value, what was refused] */
  LIMIT_EXCEEDED: { result: RESULT.ERROR, text: (p) => `limit exceeded: ${p[2] ?? ''} (${p[0] ?? ''} is ${p[1] ?? ''})` },
  PERMISSION_DENIED: {
    result: RESULT.ERROR,
    text: (p) => p[1] === 'peer'
      ? `'${p[0] ?? ''}' may be called only by a peer (another server of this pair or pool, with its peer credential)`
      : `'${p[0] ?? ''}' may be called only by an operator (a client in server.authentication)`,
  },
  // XenAPI (names and meaning from xapi's api_errors)
  MESSAGE_METHOD_UNKNOWN: { result: RESULT.UNSUPPORTED, text: (p) => `'${p[0] ?? ''}' command not supported` },
  MESSAGE_PARAMETER_COUNT_MISMATCH: plain('wrong number of parameters'),
  SESSION_AUTHENTICATION_FAILED: plain('authentication failed'),
  SESSION_INVALID: plain('session is not valid'),
  HANDLE_INVALID: plain('no such object'),
  INVALID_VALUE: plain('invalid value'),
  HOST_IS_SLAVE: plain('this host is a slave; the pool master is'),
  HOST_OFFLINE: plain('host is not live'),
  CANNOT_CONTACT_HOST: plain('cannot contact host'),
  HOST_NOT_ENOUGH_FREE_MEMORY: plain('host has not enough free memory'),
  VM_BAD_POWER_STATE: plain('VM is in the wrong power state'),
  OPERATION_NOT_ALLOWED: plain('operation not allowed'),
  DESIGNATE_NEW_MASTER_IN_PROGRESS: plain('a master change is already in progress'),
  HA_ABORT_NEW_MASTER: plain('master change aborted'),
  HA_IS_ENABLED: plain('HA is enabled'),
  INCOMPATIBLE_CLUSTER_STACK_ACTIVE: plain('another cluster stack is active'),
  SR_HAS_PBD: plain('SR still has PBDs'),
  PBD_EXISTS: plain('PBD already exists'),
  EVENTS_LOST: plain('events were lost; re-read the objects and start again'),
  // pool HA failover planner and admission control
  HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN: plain('this operation would break the HA failover plan'),
  HOST_EVACUATE_VM_NOT_HA_PROTECTED: plain('cannot evacuate the host: a VM on it is not protected by HA'),
  HOST_NOT_LIVE: plain('host is not live'),
  // pool HA enable/disable, cluster stacks, liveset and fencing (spec/xapi-ha.md §1, §2, §4, §8)
  HA_NOT_ENABLED: plain('HA is not enabled'),
  HA_ENABLE_IN_PROGRESS: plain('an HA enable is in progress'),
  HA_DISABLE_IN_PROGRESS: plain('an HA disable is in progress'),
  UNKNOWN_CLUSTER_STACK: plain('unknown cluster stack (no such directory under cluster-stack-root, or no such stack)'),
  CLUSTER_STACK_CONSTRAINT: plain('an attached SR requires another cluster stack'),
  INCOMPATIBLE_STATEFILE_SR: plain('the heartbeat SR cannot hold the statefile of this cluster stack; it needs an SR of type'),
  CANNOT_CREATE_STATE_FILE: plain('no SR can hold the HA statefile'),
  SR_NO_PBDS: plain('the SR is not plugged on every host'),
  HA_FAILED_TO_FORM_LIVESET: plain('the HA liveset did not form'),
  HA_HOST_CANNOT_ACCESS_STATEFILE: plain('the host cannot access the HA statefile'),
  HA_LOST_STATEFILE: plain('this host lost access to the HA statefile'),
  HA_SHOULD_BE_FENCED: plain('this host has fenced itself (HA) and accepts no pool writes'),
  HA_POOL_IS_ENABLED_BUT_HOST_IS_DISABLED: plain('HA is enabled on the pool but not armed on this host'),
  HA_REDO_LOG_UNAVAILABLE: plain('the HA redo log on the heartbeat SR cannot take the write; nothing was changed'),
  // ha library (Kea HA); Kea reports these as result 1 with its own texts
  HA_ERROR: plain('HA error'),
  HA_UNKNOWN_SERVER: plain('no HA relationship for server'),
  WITNESS_FENCED: { result: RESULT.ERROR, text: (p) => `witness refuses ${p[0] ?? ''} for another ${p[1] ?? '?'} ms: its partner was just told it is unreachable` },
  HA_MAINTENANCE_NOT_ALLOWED: { result: RESULT.HA_MAINTENANCE_NOT_ALLOWED, text: (p) => `Unable to transition the server from the ${p[0] ?? ''} to in-maintenance state.` },
} satisfies Record<string, CatalogueEntry>;

export type ErrorName = keyof typeof ERROR_CATALOGUE;

/**
 * A domain error thrown by a command handler (or by dispatch). Carries its catalogue name and
 * parameters; `text` overrides the catalogue text where a reference system has an exact wording
 * (Kea's texts are part of its interface).
 */
export class CommandError extends Error {
  readonly result: ResultCode;
  constructor(
    readonly errorName: ErrorName,
    readonly params: readonly string[] = [],
    text?: string,
    result?: ResultCode,
  ) {
    const entry: CatalogueEntry = ERROR_CATALOGUE[errorName];
    super(text ?? entry.text(params));
    this.name = 'CommandError';
    this.result = result ?? entry.result;
  }
}

/** Thrown by configuration loading and validation; carries every problem found, not just the first. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}
