import type { Answer } from '../core/commands/answer.ts';
import type { ClusterMember } from '../core/hooks/hook-library.ts';

/** What the overview needs from the server it runs in. */
export interface OverviewHost {
  serverName(): string;
  selfUrl(): string;
  /** Every server the configuration describes (this one included). */
  members(): readonly ClusterMember[];
  /** Runs a command on this server as the authenticated operator. */
  dispatch(command: string, args: Record<string, unknown> | undefined, user: string | undefined): Promise<Answer>;
}

export interface ServerView {
  readonly name: string;
  readonly url: string;
  readonly self: boolean;
  readonly reachable: boolean;
  /** status-get's arguments as that server reports them; rendered generically by the page. */
  readonly status?: Record<string, unknown>;
  readonly error?: string;
}

export interface PoolView {
  /** The server answering as master (the records come from it), if any answered. */
  readonly master?: string;
  /** `<class>.get_all_records` of each class the page shows, as the master answers them. */
  readonly records: Record<string, Record<string, Record<string, unknown>>>;
  readonly error?: string;
}

export interface Overview {
  readonly server: string;
  readonly generated: string;
  readonly servers: readonly ServerView[];
  readonly pool?: PoolView;
}

/** Pool classes whose records the page shows (what a XenCenter-style view needs). */
const POOL_CLASSES = ['pool', 'host', 'host_metrics', 'VM', 'SR'];
const PEER_TIMEOUT_MS = 1500;

/**
 * The picture the status page and `liveset status` draw: status-get of this server and of every
 * member of its cluster, plus the pool's records from whichever server acts as master. Peers are
 * asked with the caller's own credentials (its Authorization header), so the page can show no
 * more than the operator could fetch from each server directly.
 */
export async function buildOverview(host: OverviewHost, authorization: string | undefined, user: string | undefined, wallMs: number): Promise<Overview> {
  const self = host.serverName();
  const members = host.members().some((m) => m.name === self) ? host.members() : [{ name: self, url: host.selfUrl() }, ...host.members()];
  const run = (m: ClusterMember) => (command: string, args?: Record<string, unknown>): Promise<Answer> =>
    m.name === self ? host.dispatch(command, args, user) : peerCommand(m.url, command, args, authorization);
  const servers = await Promise.all(members.map(async (m): Promise<ServerView> => {
    const base = { name: m.name, url: m.name === self ? host.selfUrl() : m.url, self: m.name === self };
    try {
      const a = await run(m)('status-get');
      if (a.result !== 0) return { ...base, reachable: true, error: a.text ?? `result ${a.result}` };
      return { ...base, reachable: true, status: a.arguments as Record<string, unknown> };
    } catch (err) {
      return { ...base, reachable: false, error: reason(err) };
    }
  }));
  const overview: Overview = { server: self, generated: new Date(wallMs).toISOString(), servers };
  const poolServers = servers.filter((s) => s.status?.['pool'] !== undefined);
  if (poolServers.length === 0) return overview;
  const masters = poolServers.filter((s) => (s.status?.['pool'] as Record<string, unknown>)['role'] === 'master');
  const master = masters.find((s) => s.self) ?? masters[0];
  if (master === undefined) return { ...overview, pool: { records: {}, error: 'no server answers as pool master' } };
  const member = members.find((m) => m.name === master.name) as ClusterMember;
  const records: Record<string, Record<string, Record<string, unknown>>> = {};
  try {
    for (const cls of POOL_CLASSES) {
      const a = await run(member)(`${cls}.get_all_records`);
      if (a.result === 0) records[cls] = a.arguments as Record<string, Record<string, unknown>>;
    }
  } catch (err) {
    return { ...overview, pool: { master: master.name, records, error: reason(err) } };
  }
  return { ...overview, pool: { master: master.name, records } };
}

/** fetch's "fetch failed" hides the useful part (ECONNREFUSED, a timeout) in its cause. */
export function reason(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return `no answer within ${PEER_TIMEOUT_MS} ms`;
  return e?.cause?.code ?? e?.cause?.message ?? (e instanceof Error ? e.message : String(err));
}

/** One Kea-channel command to another server, as the operator (not as a peer: no X-Liveset-Server). */
export async function peerCommand(url: string, command: string, args: Record<string, unknown> | undefined, authorization: string | undefined): Promise<Answer> {
  const res = await fetch(new URL('/', url), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Liveset-Error-Detail': '1', ...(authorization ? { Authorization: authorization } : {}) },
    body: JSON.stringify(args === undefined ? { command } : { command, arguments: args }),
    signal: AbortSignal.timeout(PEER_TIMEOUT_MS),
  });
  const body = (await res.json()) as unknown;
  if (!Array.isArray(body) || typeof body[0]?.result !== 'number') throw new Error(`HTTP ${res.status} from ${url}`);
  return body[0] as Answer;
}
