import type { PoolConfig } from './pool-config.ts';

/**
 * What makes the pool what it is on this host: its name, its hosts (names, URLs, addresses,
 * memory), the initial master, the pool secret and TLS hosts present to each other, the host
 * limit, and everything pool HA was enabled with (SR types, cluster stacks, fencing). Changing
 * any of these under a running pool would change whom it talks to or what its database means, so
 * the library restarts. Timers, operator credentials and session limits are read where they are
 * used and can change under a running pool.
 */
function identity(c: PoolConfig): unknown {
  return {
    name: c.name,
    thisHost: c.thisHost ?? null,
    master: c.master,
    hosts: c.hosts,
    managementUrl: c.managementUrl ?? null,
    poolSecret: c.poolSecret ?? null,
    poolSecretFile: c.poolSecretFile ?? null,
    tlsFiles: c.tlsFiles ?? null,
    maxHosts: c.maxHosts,
    srTypes: c.srTypes,
    clusterStacks: c.clusterStacks,
    clusterStackRoot: c.clusterStackRoot ?? null,
    haFenceCommand: c.haFenceCommand ?? null,
    haFenceLoop: c.haFenceLoop,
  };
}

/** The settings that may change in place, by their configuration names. */
const TUNABLE: readonly [keyof PoolConfig, string][] = [
  ['credentials', 'credentials'],
  ['sessionLimits', 'sessions'],
  ['heartbeatIntervalMs', 'heartbeat-interval'],
  ['assumedDeadMs', 'assumed-dead-interval'],
  ['forwardTimeoutMs', 'forward-timeout'],
  ['proposalTimeoutMs', 'proposal-timeout'],
  ['databaseSyncMs', 'database-sync-interval'],
];

/**
 * The names of the settings that changed when all of them can be applied in place, or
 * `undefined` when the pool itself changed and the library must restart. PURE.
 */
export function poolInPlaceChanges(current: PoolConfig, next: PoolConfig): string[] | undefined {
  if (JSON.stringify(identity(current)) !== JSON.stringify(identity(next))) return undefined;
  return TUNABLE.filter(([key]) => JSON.stringify(current[key]) !== JSON.stringify(next[key])).map(([, name]) => name);
}
