/**
 * HA timeouts derived from the base timeout T (spec/xapi-ha.md §9.1, xapi/xapi_ha.ml:218-284).
 * PURE. All values in milliseconds.
 *
 * From T = 10 s up the formulas are xapi's exactly. Below 10 s (allowed only under `testing`)
 * every interval is the T = 10 s value scaled by T/10, so the ratios between them stay those of a
 * real pool instead of xapi's 2-3 s floors swamping a 3 s timeout.
 */
export interface HaTimeouts {
  /** Base timeout T. */
  readonly baseMs: number;
  /** HeartbeatInterval t1 = min((T+10)/10, 3) s. */
  readonly heartbeatIntervalMs: number;
  /** StateFileInterval t2 = max(2, T/20) s. */
  readonly statefileIntervalMs: number;
  /** HeartbeatTimeout T1 = T. */
  readonly heartbeatTimeoutMs: number;
  /** StateFileTimeout T2 = T. */
  readonly statefileTimeoutMs: number;
  /** HeartbeatWatchdogTimeout Wh = T. */
  readonly heartbeatWatchdogMs: number;
  /** StateFileWatchdogTimeout Ws = T + 15. */
  readonly statefileWatchdogMs: number;
  /** BootJoinTimeout = T + 60. */
  readonly bootJoinMs: number;
  /** EnableJoinTimeout = T + 60. */
  readonly enableJoinMs: number;
  /**
   * How long a host keeps acting on its last confirmed membership (and a master on its lock)
   * without a new confirmation: T1 − max(t1, t2). Peers drop a host only after T1 of silence on
   * both channels, so a host that cannot confirm stops (and fences) before anyone treats it as dead.
   */
  readonly leaseMs: number;
  /**
   * How often a host reads the statefile and evaluates its view: min(t1, t2) / 2, and at least
   * every 250 ms (a read of a few KiB; it bounds how long detection and the lock hand-over take).
   */
  readonly tickMs: number;
}

export const MIN_PRODUCTION_TIMEOUT_MS = 10_000;
/** The smallest T accepted even under testing. */
export const MIN_TESTING_TIMEOUT_MS = 1_000;
/** xapi's ha_default_timeout_base. */
export const DEFAULT_TIMEOUT_MS = 60_000;

export function deriveTimeouts(baseMs: number): HaTimeouts {
  if (baseMs < MIN_PRODUCTION_TIMEOUT_MS) {
    const ten = deriveTimeouts(MIN_PRODUCTION_TIMEOUT_MS);
    const k = baseMs / MIN_PRODUCTION_TIMEOUT_MS;
    const s = (v: number) => Math.round(v * k);
    const t1 = s(ten.heartbeatIntervalMs);
    const t2 = s(ten.statefileIntervalMs);
    return {
      baseMs, heartbeatIntervalMs: t1, statefileIntervalMs: t2, heartbeatTimeoutMs: baseMs, statefileTimeoutMs: baseMs,
      heartbeatWatchdogMs: baseMs, statefileWatchdogMs: s(ten.statefileWatchdogMs), bootJoinMs: s(ten.bootJoinMs), enableJoinMs: s(ten.enableJoinMs),
      leaseMs: baseMs - Math.max(t1, t2), tickMs: tickOf(t1, t2),
    };
  }
  const T = baseMs / 1000;
  const t1 = Math.min((T + 10) / 10, 3) * 1000;
  const t2 = Math.max(2, T / 20) * 1000;
  return {
    baseMs,
    heartbeatIntervalMs: Math.round(t1),
    statefileIntervalMs: Math.round(t2),
    heartbeatTimeoutMs: baseMs,
    statefileTimeoutMs: baseMs,
    heartbeatWatchdogMs: baseMs,
    statefileWatchdogMs: baseMs + 15_000,
    bootJoinMs: baseMs + 60_000,
    enableJoinMs: baseMs + 60_000,
    leaseMs: baseMs - Math.round(Math.max(t1, t2)),
    tickMs: tickOf(t1, t2),
  };
}

const MAX_TICK_MS = 250;

function tickOf(t1: number, t2: number): number {
  return Math.max(20, Math.min(MAX_TICK_MS, Math.floor(Math.min(t1, t2) / 2)));
}

/**
 * T from pool.enable_ha's configuration map (seconds, as xapi), else other_config's
 * default_ha_timeout, else 60 s. Returns an error text when the value is not usable.
 */
/** Upper bound on T: a day is far beyond any real pool's (xapi's default is 60 s). */
const MAX_TIMEOUT_MS = 86_400_000;

export function baseTimeoutOf(configuration: Readonly<Record<string, string>>, otherConfig: Readonly<Record<string, string>>, testing: boolean): { ms: number } | { error: string; value: string } {
  const raw = configuration['timeout'] ?? otherConfig['default_ha_timeout'];
  if (raw === undefined) return { ms: DEFAULT_TIMEOUT_MS };
  const secs = Number(raw);
  if (!Number.isFinite(secs) || secs <= 0) return { error: 'timeout must be a number of seconds', value: raw };
  const ms = Math.round(secs * 1000);
  // The longest derived interval (the enable join timeout, 7 T) must stay a usable timer delay.
  if (ms > MAX_TIMEOUT_MS) return { error: `timeout must be at most ${MAX_TIMEOUT_MS / 1000} s (one day)`, value: raw };
  const min = testing ? MIN_TESTING_TIMEOUT_MS : MIN_PRODUCTION_TIMEOUT_MS;
  if (ms < min) {
    return { error: testing ? `timeout must be at least ${min / 1000} s` : 'timeout must be at least 10 s (smaller values only under testing)', value: raw };
  }
  return { ms };
}

/** The timeouts as status shows them (seconds, 3 decimals). */
export function describeTimeouts(t: HaTimeouts): Record<string, number> {
  const s = (ms: number) => Math.round(ms) / 1000;
  return {
    T: s(t.baseMs), heartbeat_interval: s(t.heartbeatIntervalMs), statefile_interval: s(t.statefileIntervalMs),
    heartbeat_timeout: s(t.heartbeatTimeoutMs), statefile_timeout: s(t.statefileTimeoutMs), heartbeat_watchdog: s(t.heartbeatWatchdogMs),
    statefile_watchdog: s(t.statefileWatchdogMs), boot_join_timeout: s(t.bootJoinMs), enable_join_timeout: s(t.enableJoinMs), lease: s(t.leaseMs),
  };
}
