import type { HaState, PauseRule } from './machine/ha-state.ts';
import type { PeerTls } from '../../core/hooks/hook-library.ts';
import type { PeerTlsFiles } from '../../core/peer-tls.ts';

/** Kea's HA modes, spelled as in the configuration. */
export type HaMode = 'load-balancing' | 'hot-standby' | 'passive-backup';
/** Kea's peer roles. */
export type PeerRole = 'primary' | 'secondary' | 'standby' | 'backup';

/** One entry of `peers[]`, parsed. */
export interface PeerConfig {
  readonly name: string;
  readonly url: string;
  readonly role: PeerRole;
  readonly autoFailover: boolean;
  /** Kea's basic-auth-*; `passwordFile` (relative to the configuration file) is read at load into `password`. */
  readonly basicAuth?: { readonly user: string; readonly password: string; readonly passwordFile?: string };
  /** Kea's TLS keys for calling this peer (its own, else the relationship's); files read at load into `tls`. */
  readonly tlsFiles?: PeerTlsFiles;
  readonly tls?: PeerTls;
}

/** A witness: another liveset server asked whether it can reach our partner (docs/ha.md, Witnesses). */
export interface WitnessConfig {
  readonly name: string;
  readonly url: string;
  readonly basicAuth?: { readonly user: string; readonly password: string };
}

/** The relationship's witnesses and their timers; absent for a pair without witnesses (Kea's behaviour). */
export interface WitnessSettings {
  readonly members: readonly WitnessConfig[];
  /** Bound on one probe round trip (our request, the witness's heartbeat to the partner, its answer). */
  readonly timeoutMs: number;
  /** Safety margin added to every witness deadline. */
  readonly marginMs: number;
}

/** keepalived-style notify scripts: run with the new state on every transition. */
export interface NotifyConfig {
  /** Executable run on every transition as `script <new-state> <old-state> <server-name> <partner-state> <scopes> <paused>`. */
  readonly script: string;
  /** A script still running after this long is killed (SIGKILL) and logged. */
  readonly timeoutMs: number;
}

/**
 * One HA relationship, parsed and checked (Kea's HAConfig). Wire names are mapped to camelCase only
 * here and in the parser.
 */
export interface HaConfig {
  readonly thisServerName: string;
  readonly mode: HaMode;
  /** Ordered as Kea orders them for the query filter: primary, secondary/standby, then backups. */
  readonly peers: readonly PeerConfig[];
  /** Kea's require-client-certs: with https peers, this server's listener must demand client certificates. */
  readonly requireClientCerts?: boolean;
  readonly heartbeatDelay: number;
  readonly maxResponseDelay: number;
  readonly maxAckDelay: number;
  readonly maxUnackedClients: number;
  readonly maxRejectedLeaseUpdates: number;
  readonly delayedUpdatesLimit: number;
  readonly sendLeaseUpdates: boolean;
  readonly syncLeases: boolean;
  readonly syncTimeout: number;
  readonly syncPageLimit: number;
  readonly waitBackupAck: boolean;
  /** Pause rule per state; states not listed are `never`. */
  readonly pauseRules: Readonly<Partial<Record<HaState, PauseRule>>>;
  readonly notify?: NotifyConfig;
  /** Present only when `witnesses` is configured. */
  readonly witness?: WitnessSettings;
}

/** This server's own peer entry. */
export function thisPeer(config: HaConfig): PeerConfig {
  const me = config.peers.find((p) => p.name === config.thisServerName);
  if (me === undefined) throw new Error(`no peer configuration specified for the '${config.thisServerName}'`);
  return me;
}

/** Kea's failover peer: the first other peer whose role is not backup (none for a backup server's view in passive-backup). */
export function failoverPeer(config: HaConfig): PeerConfig | undefined {
  return config.peers.find((p) => p.name !== config.thisServerName && p.role !== 'backup');
}

/** Kea's peer request timeout is 10 s; heartbeats use less when max-response-delay is shorter. */
export function heartbeatTimeoutMs(config: Pick<HaConfig, 'maxResponseDelay'>): number {
  return Math.min(10_000, Math.max(1000, config.maxResponseDelay));
}
