import type { ClusterMember, PeerTls } from '../../core/hooks/hook-library.ts';
import { hasPeerTls, peerTlsProblem, type PeerTlsFiles } from '../../core/peer-tls.ts';
import { etcdParameterProblems, type EtcdStackParameters } from './etcd/etcd-parameters.ts';

/** One host of the pool, as configured. */
export interface PoolHost {
  readonly name: string;
  readonly url: string;
  /** host.address: what HOST_IS_SLAVE reports and what the two-phase commit names. */
  readonly address: string;
  readonly memory: number;
}

/** The pool library's parameters after schema validation, with defaults filled in. */
export interface PoolConfig {
  readonly name: string;
  readonly thisHost?: string;
  readonly master: string;
  readonly hosts: readonly PoolHost[];
  /** The floating management address only the acting master listens on (management-listener.ts). */
  readonly managementUrl?: string;
  readonly credentials: readonly { readonly user: string; readonly password: string }[];
  /** The credential hosts send each other: the pool secret, set when the library loads (pool-secret.ts). */
  readonly peerAuth?: { readonly user: string; readonly password: string };
  readonly poolSecret?: string;
  readonly poolSecretFile?: string;
  /** Kea's HA TLS keys for calling https:// hosts; read at load into `peerTls`. */
  readonly tlsFiles?: PeerTlsFiles;
  readonly peerTls?: PeerTls;
  readonly maxHosts: number;
  /** XenAPI sessions per user, and how long an unused one lives. */
  readonly sessionLimits: { readonly maxPerUser: number; readonly idleMs: number };
  readonly heartbeatIntervalMs: number;
  readonly assumedDeadMs: number;
  readonly forwardTimeoutMs: number;
  readonly proposalTimeoutMs: number;
  readonly databaseSyncMs: number;
  readonly srTypes: Readonly<Record<string, readonly string[]>>;
  /** Per-stack settings (`cluster-stacks`): the etcd stack's TLS files and credentials. */
  readonly clusterStacks: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** `<cluster-stack-root>/<stack>` must exist for a stack to be used; absent: built-in stacks only. */
  readonly clusterStackRoot?: string;
  /** Fence action: run this command (argv) before exiting with the fence exit code. */
  readonly haFenceCommand?: readonly string[];
  readonly haFenceLoop: { readonly count: number; readonly windowMs: number };
}

const GiB = 1024 * 1024 * 1024;

interface RawHost { name: string; url: string; address?: string; memory?: number }
interface RawParams {
  name: string;
  'this-host'?: string;
  master: string;
  hosts: RawHost[];
  'management-url'?: string;
  credentials: { user: string; password: string }[];
  'pool-secret'?: string;
  'pool-secret-file'?: string;
  'trust-anchor'?: string;
  'cert-file'?: string;
  'key-file'?: string;
  'max-hosts'?: number;
  sessions?: { 'max-per-user'?: number; 'idle-timeout'?: number };
  'heartbeat-interval'?: number;
  'assumed-dead-interval'?: number;
  'forward-timeout'?: number;
  'proposal-timeout'?: number;
  'database-sync-interval'?: number;
  'sr-types'?: Record<string, string[]>;
  'cluster-stacks'?: Record<string, Record<string, unknown>>;
  'cluster-stack-root'?: string;
  'ha-fence-command'?: string[];
  'ha-fence-loop'?: { count?: number; window?: number };
}

/** Default address: host:port of the URL, so hosts on one machine stay distinct. */
function defaultAddress(url: string): string {
  const u = new URL(url);
  return u.port === '' ? u.hostname : `${u.hostname}:${u.port}`;
}

/** Turns schema-valid parameters into a PoolConfig (xapi's defaults where a key is absent). */
export function parsePoolConfig(parameters: unknown): PoolConfig {
  const p = parameters as RawParams;
  return {
    name: p.name,
    ...(p['this-host'] !== undefined ? { thisHost: p['this-host'] } : {}),
    master: p.master,
    hosts: p.hosts.map((h) => ({ name: h.name, url: h.url, address: h.address ?? defaultAddress(h.url), memory: h.memory ?? 8 * GiB })),
    ...(p['management-url'] !== undefined ? { managementUrl: p['management-url'] } : {}),
    credentials: p.credentials,
    ...(p['pool-secret'] !== undefined ? { poolSecret: p['pool-secret'] } : {}),
    ...(p['pool-secret-file'] !== undefined ? { poolSecretFile: p['pool-secret-file'] } : {}),
    ...(p['trust-anchor'] !== undefined || p['cert-file'] !== undefined || p['key-file'] !== undefined
      ? { tlsFiles: { 'trust-anchor': p['trust-anchor'], 'cert-file': p['cert-file'], 'key-file': p['key-file'] } }
      : {}),
    maxHosts: p['max-hosts'] ?? 64,
    sessionLimits: { maxPerUser: p.sessions?.['max-per-user'] ?? 500, idleMs: p.sessions?.['idle-timeout'] ?? 86_400_000 },
    heartbeatIntervalMs: p['heartbeat-interval'] ?? 30_000,
    assumedDeadMs: p['assumed-dead-interval'] ?? 600_000,
    forwardTimeoutMs: p['forward-timeout'] ?? 10_000,
    proposalTimeoutMs: p['proposal-timeout'] ?? 600_000,
    databaseSyncMs: p['database-sync-interval'] ?? 300_000,
    srTypes: p['sr-types'] ?? { gfs2: ['corosync'], etcd: ['etcd'] },
    clusterStacks: p['cluster-stacks'] ?? {},
    ...(p['cluster-stack-root'] !== undefined ? { clusterStackRoot: p['cluster-stack-root'] } : {}),
    ...(p['ha-fence-command'] !== undefined ? { haFenceCommand: p['ha-fence-command'] } : {}),
    haFenceLoop: { count: p['ha-fence-loop']?.count ?? 3, windowMs: p['ha-fence-loop']?.window ?? 3_600_000 },
  };
}

/** The servers this file describes, for `--server`, `liveset up` and the listen address. */
export function poolMembers(parameters: unknown): { members: ClusterMember[]; thisServer?: string } {
  const c = parsePoolConfig(parameters);
  return { members: c.hosts.map((h) => ({ name: h.name, url: h.url })), ...(c.thisHost !== undefined ? { thisServer: c.thisHost } : {}) };
}

/** Cross-field checks the schema cannot express; each problem names the key. */
export function checkPoolConfig(parameters: unknown, serverName: string): string[] {
  const c = parsePoolConfig(parameters);
  const problems: string[] = [];
  const names = c.hosts.map((h) => h.name);
  const dup = (xs: string[]) => xs.filter((x, i) => xs.indexOf(x) !== i);
  if (c.hosts.length > c.maxHosts) problems.push(`hosts: ${c.hosts.length} hosts, more than max-hosts (${c.maxHosts}; xapi's limit is 64)`);
  for (const n of new Set(dup(names))) problems.push(`hosts: host name '${n}' appears more than once`);
  for (const a of new Set(dup(c.hosts.map((h) => h.address)))) problems.push(`hosts: address '${a}' is used by more than one host; set hosts[].address`);
  for (const u of new Set(dup(c.hosts.map((h) => h.url)))) problems.push(`hosts: url '${u}' is used by more than one host`);
  if (c.managementUrl !== undefined) {
    const m = new URL(c.managementUrl);
    for (const h of c.hosts) {
      const u = new URL(h.url);
      if (u.host === m.host) problems.push(`management-url: '${c.managementUrl}' is host ${h.name}'s own url; the floating address must be another one`);
      if (u.protocol !== m.protocol) problems.push(`management-url: '${c.managementUrl}' is ${m.protocol.slice(0, -1)} but host ${h.name}'s url is ${u.protocol.slice(0, -1)}; both must be the same`);
    }
  }
  if (!names.includes(c.master)) problems.push(`master: '${c.master}' is not one of the hosts (${names.join(', ')})`);
  if (c.thisHost !== undefined && !names.includes(c.thisHost)) problems.push(`this-host: '${c.thisHost}' is not one of the hosts`);
  if (serverName !== '' && !names.includes(serverName)) problems.push(`this server '${serverName}' is not one of the pool's hosts (${names.join(', ')})`);
  const tlsBad = peerTlsProblem(c.tlsFiles ?? {});
  if (tlsBad !== undefined) problems.push(`trust-anchor, cert-file, key-file: ${tlsBad}`);
  const tls = c.tlsFiles !== undefined && hasPeerTls(c.tlsFiles);
  for (const h of c.hosts) {
    if (h.url.startsWith('https:') && !tls) problems.push(`hosts: url '${h.url}' of ${h.name}: https needs the pool's trust-anchor, cert-file and key-file`);
  }
  const etcd = c.clusterStacks['etcd'];
  if (etcd !== undefined) problems.push(...etcdParameterProblems(etcd as EtcdStackParameters));
  if (c.poolSecret !== undefined && c.poolSecretFile !== undefined) problems.push('pool-secret, pool-secret-file: give one of them, not both');
  if (c.assumedDeadMs <= c.heartbeatIntervalMs) {
    problems.push(`assumed-dead-interval: ${c.assumedDeadMs} ms must be longer than heartbeat-interval (${c.heartbeatIntervalMs} ms)`);
  }
  return problems;
}
