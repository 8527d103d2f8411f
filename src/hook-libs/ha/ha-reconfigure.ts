import type { HaConfig } from './ha-config.ts';

/**
 * What makes a relationship what it is: who this server is, the mode, the peers (names, roles,
 * URLs, credentials, TLS) and the witnesses asked about the partner. A change to any of these
 * changes whom the machine talks to and what its scopes are, so the library restarts (as Kea
 * does on every reconfiguration). Everything else — timers, limits, pause rules, the notify
 * script — is read by the machine at each step and can change under a running relationship.
 */
function identity(c: HaConfig): unknown {
  return {
    thisServerName: c.thisServerName,
    mode: c.mode,
    requireClientCerts: c.requireClientCerts ?? null,
    peers: c.peers.map((p) => ({ name: p.name, url: p.url, role: p.role, autoFailover: p.autoFailover, basicAuth: p.basicAuth ?? null, tlsFiles: p.tlsFiles ?? null, tls: p.tls ?? null })),
    witnesses: c.witness?.members ?? null,
  };
}

/** The settings that may change in place, by their configuration names. */
const TUNABLE: readonly [keyof HaConfig, string][] = [
  ['heartbeatDelay', 'heartbeat-delay'],
  ['maxResponseDelay', 'max-response-delay'],
  ['maxAckDelay', 'max-ack-delay'],
  ['maxUnackedClients', 'max-unacked-clients'],
  ['maxRejectedLeaseUpdates', 'max-rejected-lease-updates'],
  ['delayedUpdatesLimit', 'delayed-updates-limit'],
  ['sendLeaseUpdates', 'send-lease-updates'],
  ['syncLeases', 'sync-leases'],
  ['syncTimeout', 'sync-timeout'],
  ['syncPageLimit', 'sync-page-limit'],
  ['waitBackupAck', 'wait-backup-ack'],
  ['pauseRules', 'state-machine'],
  ['notify', 'notify'],
];

/**
 * How `next` differs from the running `current`: the names of the settings that changed when all
 * of them can be applied in place, or `undefined` when the relationship itself changed and the
 * library must restart. PURE.
 */
export function inPlaceChanges(current: HaConfig, next: HaConfig): string[] | undefined {
  if (JSON.stringify(identity(current)) !== JSON.stringify(identity(next))) return undefined;
  const changed = TUNABLE.filter(([key]) => JSON.stringify(current[key] ?? null) !== JSON.stringify(next[key] ?? null)).map(([, name]) => name);
  const witness = (c: HaConfig) => JSON.stringify(c.witness ? { timeoutMs: c.witness.timeoutMs, marginMs: c.witness.marginMs } : null);
  if (witness(current) !== witness(next)) changed.push('witnesses (timeouts)');
  return changed;
}
