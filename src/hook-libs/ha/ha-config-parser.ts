import type { ClusterMember } from '../../core/hooks/hook-library.ts';
import type { HaConfig, HaMode, NotifyConfig, PeerConfig, PeerRole, WitnessConfig, WitnessSettings } from './ha-config.ts';
import { heartbeatTimeoutMs } from './ha-config.ts';
import type { HaState, PauseRule } from './machine/ha-state.ts';
import { isHaState, PAUSE_RULES } from './machine/ha-state.ts';
import { hasPeerTls, peerTlsProblem, type PeerTlsFiles } from '../../core/peer-tls.ts';

/** The library's parameters as the schema admits them (wire spelling). */
interface RawPeer {
  name: string;
  url: string;
  role: PeerRole;
  'auto-failover'?: boolean;
  'basic-auth-user'?: string;
  'basic-auth-password'?: string;
  'basic-auth-password-file'?: string;
  'trust-anchor'?: string;
  'cert-file'?: string;
  'key-file'?: string;
}
interface RawWitness {
  name: string;
  url: string;
  'basic-auth-user'?: string;
  'basic-auth-password'?: string;
}
interface RawRelationship {
  'this-server-name'?: string;
  mode: HaMode;
  peers: RawPeer[];
  'heartbeat-delay'?: number;
  'max-response-delay'?: number;
  'max-ack-delay'?: number;
  'max-unacked-clients'?: number;
  'max-rejected-lease-updates'?: number;
  'delayed-updates-limit'?: number;
  'send-lease-updates'?: boolean;
  'sync-leases'?: boolean;
  'sync-timeout'?: number;
  'sync-page-limit'?: number;
  'wait-backup-ack'?: boolean;
  'state-machine'?: { states?: { state: string; pause?: string }[] };
  notify?: { script: string; 'timeout-ms'?: number };
  witnesses?: RawWitness[];
  'witness-timeout'?: number;
  'witness-margin'?: number;
  'trust-anchor'?: string;
  'cert-file'?: string;
  'key-file'?: string;
  'require-client-certs'?: boolean;
}
interface RawParameters {
  'high-availability': RawRelationship[];
}

const MODE_TEXT: Record<HaMode, string> = {
  'load-balancing': 'load balancing',
  'hot-standby': 'hot standby',
  'passive-backup': 'passive backup',
};

const ROLE_ORDER: Record<PeerRole, number> = { primary: 0, secondary: 1, standby: 1, backup: 2 };

/** Outcome of parsing: a config, or every problem found (each naming its entry). */
export type ParseResult = { readonly ok: true; readonly config: HaConfig } | { readonly ok: false; readonly problems: readonly string[] };

function relationshipOf(parameters: unknown): RawRelationship[] {
  const p = parameters as Partial<RawParameters> | null;
  return Array.isArray(p?.['high-availability']) ? p['high-availability'] : [];
}

/** The cluster a configuration describes: every peer, and this server when the file names it. */
export function haMembers(parameters: unknown): { members: ClusterMember[]; thisServer?: string } {
  const rel = relationshipOf(parameters)[0];
  if (rel === undefined) return { members: [] };
  // Witnesses are members too, so one file (and `liveset up`) can run the pair with its witnesses.
  const members = [...rel.peers, ...(rel.witnesses ?? [])].map((p) => ({ name: p.name.trim(), url: p.url }));
  const name = rel['this-server-name']?.trim();
  return name !== undefined && name !== '' ? { members, thisServer: name } : { members };
}

/**
 * True when `serverName` is one of the relationship's witnesses and not a peer: such a server
 * runs no HA service (the core's ha-witness-probe is all a witness needs).
 */
export function isWitnessOnly(parameters: unknown, serverName: string): boolean {
  const rel = relationshipOf(parameters)[0];
  const name = serverName.trim();
  if (rel === undefined || name === '' || rel.peers.some((p) => p.name.trim() === name)) return false;
  return (rel.witnesses ?? []).some((w) => w.name.trim() === name);
}

function basicAuthOf(raw: { 'basic-auth-user'?: string; 'basic-auth-password'?: string; 'basic-auth-password-file'?: string }): { basicAuth?: { user: string; password: string; passwordFile?: string } } {
  const user = raw['basic-auth-user'];
  const file = raw['basic-auth-password-file'];
  if (user === undefined || user === '') return {};
  return { basicAuth: { user, password: raw['basic-auth-password'] ?? '', ...(file !== undefined ? { passwordFile: file } : {}) } };
}

/** Witness entries: names unique and distinct from the peers', URLs as for peers. */
function parseWitnesses(rel: RawRelationship, peerNames: ReadonlySet<string>, where: string, problems: string[]): WitnessSettings | undefined {
  if (rel.witnesses === undefined) return undefined;
  const members: WitnessConfig[] = [];
  rel.witnesses.forEach((raw, i) => {
    const at = `${where}.witnesses[${i}]`;
    const name = raw.name.trim();
    if (name === '') return problems.push(`${at}: witness name must not be empty`);
    if (peerNames.has(name)) problems.push(`${at}: '${name}' is a peer of this relationship; a witness must be another server`);
    if (members.some((w) => w.name === name)) problems.push(`${at}: witness with name '${name}' already specified`);
    const bad = urlProblem(raw.url);
    if (bad !== undefined) problems.push(`${at}: bad url '${raw.url}': ${bad} for witness ${name}`);
    const user = raw['basic-auth-user'];
    if (user !== undefined && user.includes(':')) problems.push(`${at}: user '${user}' must not contain a ':' in witness '${name}'`);
    members.push({ name, url: raw.url, ...basicAuthOf(raw) });
    return undefined;
  });
  const maxResponseDelay = rel['max-response-delay'] ?? 60000;
  return {
    members,
    timeoutMs: rel['witness-timeout'] ?? heartbeatTimeoutMs({ maxResponseDelay }),
    marginMs: rel['witness-margin'] ?? Math.max(50, Math.floor(maxResponseDelay / 10)),
  };
}

/** Host must be an IPv4 literal or a bracketed IPv6 literal, as Kea requires. */
function urlProblem(url: string, tls = false): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'not a valid URL';
  }
  if (u.protocol === 'https:' && !tls) return 'https scheme is not supported';
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `unsupported scheme '${u.protocol.replace(':', '')}'`;
  const host = u.hostname;
  const ipv4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (ipv4 !== null && ipv4.slice(1).every((o) => Number(o) <= 255)) return undefined;
  if (host.startsWith('[') && host.endsWith(']')) return undefined;
  return `host '${host}' is not an IP address literal`;
}

function checkRoles(mode: HaMode, peers: readonly RawPeer[], where: string, problems: string[]): void {
  const count = (r: PeerRole): number => peers.filter((p) => p.role === r).length;
  for (const r of ['primary', 'secondary', 'standby'] as const) {
    if (count(r) > 1) problems.push(`${where}: multiple ${r} servers specified`);
  }
  const m = MODE_TEXT[mode];
  const need = (r: PeerRole): void => {
    if (count(r) === 0) problems.push(`${where}: ${r} server required in the ${m} configuration`);
  };
  const forbid = (r: PeerRole): void => {
    if (count(r) > 0) problems.push(`${where}: ${r} servers not allowed in the ${m} configuration`);
  };
  if (mode === 'load-balancing') {
    need('secondary');
    need('primary');
    forbid('standby');
  } else if (mode === 'hot-standby') {
    need('standby');
    need('primary');
    forbid('secondary');
  } else {
    forbid('secondary');
    forbid('standby');
    need('primary');
  }
}

function parsePauseRules(rel: RawRelationship, where: string, problems: string[]): Partial<Record<HaState, PauseRule>> {
  const rules: Partial<Record<HaState, PauseRule>> = {};
  const seen = new Set<string>();
  (rel['state-machine']?.states ?? []).forEach((entry, i) => {
    const at = `${where}.state-machine.states[${i}]`;
    const pause = entry.pause ?? 'never';
    if (!isHaState(entry.state) && entry.state !== 'unavailable') {
      problems.push(`${at}: unknown state ${entry.state}`);
      return;
    }
    if (!(PAUSE_RULES as readonly string[]).includes(pause)) {
      problems.push(`${at}: unsupported value ${pause} of 'pause' parameter`);
      return;
    }
    if (seen.has(entry.state)) {
      problems.push(`${at}: duplicated configuration for the '${entry.state}' state`);
      return;
    }
    seen.add(entry.state);
    // Kea accepts 'unavailable' (a known label) although no server is ever in it: no effect.
    if (isHaState(entry.state)) rules[entry.state] = pause as PauseRule;
  });
  return rules;
}

/**
 * Kea's HA configuration parser and validator for one relationship: applies defaults, checks what
 * the schema cannot (names, roles per mode, URLs, pause rules) and orders peers as Kea does
 * (primary, secondary/standby, backups). `serverName` is this server when `this-server-name` is absent.
 */
export function parseHaConfig(parameters: unknown, serverName: string): ParseResult {
  const rels = relationshipOf(parameters);
  const problems: string[] = [];
  if (rels.length !== 1) {
    const n = rels.length;
    return { ok: false, problems: [n === 0 ? 'high-availability: a list of HA configurations must not be empty' : `high-availability: ${n} relationships configured; liveset supports exactly one`] };
  }
  const rel = rels[0]!;
  const where = 'high-availability[0]';
  const configured = rel['this-server-name']?.trim();
  if (configured === '') problems.push(`${where}: 'this-server-name' value must not be empty`);
  if (configured !== undefined && configured !== '' && serverName !== '' && configured !== serverName) {
    problems.push(`${where}: 'this-server-name' is '${configured}' but this server was started as '${serverName}'`);
  }
  const thisServerName = configured !== undefined && configured !== '' ? configured : serverName.trim();

  const peers: PeerConfig[] = [];
  const names = new Set<string>();
  rel.peers.forEach((raw, i) => {
    const at = `${where}.peers[${i}]`;
    const name = raw.name.trim();
    if (name === '') {
      problems.push(`${at}: peer name must not be empty`);
      return;
    }
    if (names.has(name)) problems.push(`${at}: peer with name '${name}' already specified`);
    names.add(name);
    // Kea: a peer's TLS keys, else the relationship's; all three or none.
    const own: PeerTlsFiles = { 'trust-anchor': raw['trust-anchor'], 'cert-file': raw['cert-file'], 'key-file': raw['key-file'] };
    const tlsFiles: PeerTlsFiles = hasPeerTls(own) || peerTlsProblem(own) !== undefined ? own : { 'trust-anchor': rel['trust-anchor'], 'cert-file': rel['cert-file'], 'key-file': rel['key-file'] };
    const tlsBad = peerTlsProblem(tlsFiles);
    if (tlsBad !== undefined) problems.push(`${at}: bad TLS config for server ${name}: ${tlsBad}`);
    const tls = hasPeerTls(tlsFiles);
    const bad = urlProblem(raw.url, tls);
    if (bad !== undefined) problems.push(`${at}: bad url '${raw.url}': ${bad === 'https scheme is not supported' ? `${bad} for server ${name} where TLS is disabled` : `${bad} for server ${name}`}`);
    const user = raw['basic-auth-user'];
    if (user !== undefined && user.includes(':')) problems.push(`${at}: user '${user}' must not contain a ':' in peer '${name}'`);
    if (raw['basic-auth-password'] !== undefined && raw['basic-auth-password-file'] !== undefined) {
      problems.push(`${at}: only one of basic-auth-password and basic-auth-password-file parameter can be configured in peer '${name}'`);
    }
    peers.push({ name, url: raw.url, role: raw.role, autoFailover: raw['auto-failover'] ?? true, ...basicAuthOf(raw), ...(tls && raw.url.startsWith('https:') ? { tlsFiles } : {}) });
  });
  if (thisServerName === '') problems.push(`${where}: 'this-server-name' is not set and no --server was given`);
  else if (!names.has(thisServerName)) problems.push(`${where}: no peer configuration specified for the '${thisServerName}'`);
  checkRoles(rel.mode, rel.peers, where, problems);

  const lb = rel.mode === 'load-balancing';
  const waitBackupAck = rel['wait-backup-ack'] ?? false;
  if (waitBackupAck && rel.mode !== 'passive-backup') {
    problems.push(`${where}: 'wait-backup-ack' must be set to false in the ${MODE_TEXT[rel.mode]} configuration`);
  }
  const delayedUpdatesLimit = rel['delayed-updates-limit'] ?? (lb ? 100 : 0);
  if (!lb && delayedUpdatesLimit !== 0) {
    problems.push(`${where}: 'delayed-updates-limit' must be set to 0 in the ${MODE_TEXT[rel.mode]} configuration`);
  }
  const pauseRules = parsePauseRules(rel, where, problems);
  const witness = parseWitnesses(rel, names, where, problems);
  if (witness !== undefined && rel.mode === 'passive-backup') {
    problems.push(`${where}.witnesses: witnesses need a failover partner; passive-backup has none`);
  }
  if (problems.length > 0) return { ok: false, problems };

  const notify: NotifyConfig | undefined =
    rel.notify !== undefined ? { script: rel.notify.script, timeoutMs: rel.notify['timeout-ms'] ?? 5000 } : undefined;
  return {
    ok: true,
    config: {
      thisServerName,
      mode: rel.mode,
      peers: [...peers].sort((a, b) => ROLE_ORDER[a.role] - ROLE_ORDER[b.role]),
      requireClientCerts: rel['require-client-certs'] ?? true,
      heartbeatDelay: rel['heartbeat-delay'] ?? 10000,
      maxResponseDelay: rel['max-response-delay'] ?? 60000,
      maxAckDelay: rel['max-ack-delay'] ?? 10000,
      maxUnackedClients: rel['max-unacked-clients'] ?? 10,
      maxRejectedLeaseUpdates: rel['max-rejected-lease-updates'] ?? 10,
      delayedUpdatesLimit,
      sendLeaseUpdates: rel['send-lease-updates'] ?? true,
      syncLeases: rel['sync-leases'] ?? true,
      syncTimeout: rel['sync-timeout'] ?? 60000,
      syncPageLimit: rel['sync-page-limit'] ?? 10000,
      waitBackupAck,
      pauseRules,
      ...(notify !== undefined ? { notify } : {}),
      ...(witness !== undefined ? { witness } : {}),
    },
  };
}

/**
 * Settings liveset accepts (they are Kea's) but cannot honour: a non-zero `max-unacked-clients`
 * needs DHCP client traffic to count, which liveset never sees, so a partner is declared failed as
 * with 0. Logged at start-up and appended to config-test's answer.
 */
export function haWarnings(parameters: unknown): { pointer: string; message: string }[] {
  return relationshipOf(parameters).flatMap((rel, i) => {
    const max = (rel as { 'max-unacked-clients'?: unknown } | null)?.['max-unacked-clients'];
    if (typeof max !== 'number' || max === 0) return [];
    return [{
      pointer: `/high-availability/${i}/max-unacked-clients`,
      message: `max-unacked-clients ${max} is ignored: liveset sees no DHCP clients to count, so a partner whose heartbeats stop for max-response-delay is failed as with 0; liveset guards against a split with witnesses instead (docs/ha.md, Witnesses)`,
    }];
  });
}
