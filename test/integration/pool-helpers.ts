import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import assert from 'node:assert/strict';
import { freePorts, keaCommand, startLiveset, startMembers, waitFor } from '../helpers/liveset.ts';

export type Liveset = Awaited<ReturnType<typeof startLiveset>>;

/** Short timers so the tests run in seconds (xapi's are 30 s / 600 s). */
export const TIMERS = {
  'heartbeat-interval': 100,
  'assumed-dead-interval': 2000,
  'forward-timeout': 1000,
  'proposal-timeout': 7000,
  'database-sync-interval': 200,
};

export interface PoolCluster {
  readonly names: string[];
  readonly hosts: Map<string, Liveset>;
  readonly urls: Map<string, string>;
  readonly config: Record<string, unknown>;
  url(name: string): string;
  /** The pool's host refs by name, read from the master. */
  refs(master: string): Promise<Record<string, string>>;
  status(name: string): Promise<Record<string, unknown> | undefined>;
  /** The pool secret the hosts created beside their configuration file. */
  secret(): string;
  /** A Kea-channel command sent as a peer of the pool (with the pool secret). */
  asPeer(name: string, command: string, args?: unknown): ReturnType<typeof keaCommand>;
  stopAll(): Promise<void>;
}

/** Three real liveset processes on 127.0.0.1 running the pool library; the caller must stopAll() in after(). */
export async function startPool(opts: { faults?: boolean; timers?: Partial<typeof TIMERS> } = {}): Promise<PoolCluster> {
  const ports = await freePorts(3);
  const names = ['host1', 'host2', 'host3'];
  const dataRoot = mkdtempSync(join(tmpdir(), 'liveset-pool-'));
  const urls = new Map(names.map((n, i) => [n, `http://127.0.0.1:${ports[i]}/`]));
  const config = {
    server: { 'data-dir': join(dataRoot, '${server}') },
    logging: { level: 'warn', format: 'json' },
    testing: { 'fault-injection': opts.faults === true },
    'hooks-libraries': [{
      library: 'pool',
      parameters: {
        name: 'it-pool', master: 'host1',
        hosts: names.map((n) => ({ name: n, url: urls.get(n) })),
        credentials: [{ user: 'root', password: 'secret' }],
        ...TIMERS, ...opts.timers,
      },
    }],
  };
  const { servers: hosts, stopAll } = await startMembers(config, names, () => rmSync(dataRoot, { recursive: true, force: true }));
  const cluster: PoolCluster = {
    names, hosts, urls, config,
    url: (n) => urls.get(n) as string,
    async refs(master) {
      const a = await kea(cluster.url(master), 'host.get_all_records');
      assert.equal(a.result, 0, `host.get_all_records on ${master}: ${a.text}`);
      return Object.fromEntries(Object.entries(a.arguments as Record<string, { name_label: string }>).map(([ref, h]) => [h.name_label, ref]));
    },
    async status(n) {
      try {
        const a = await kea(cluster.url(n), 'host.local_status');
        return a.result === 0 ? (a.arguments as Record<string, unknown>) : undefined;
      } catch {
        return undefined;
      }
    },
    secret: () => readFileSync(join(dirname(hosts.get('host1')?.configFile as string), 'pool-secret'), 'utf8').trim(),
    asPeer: (n, command, args) => keaCommand(cluster.url(n), command, args, { errorDetail: true, headers: { Authorization: `Basic ${Buffer.from(`liveset-pool:${cluster.secret()}`).toString('base64')}` } }),
    stopAll,
  };
  return cluster;
}

/** live flags by host name, as the master `at` sees them. */
export async function liveness(cluster: PoolCluster, at: string): Promise<Record<string, boolean>> {
  const hosts = await kea(cluster.url(at), 'host.get_all_records');
  const metrics = await kea(cluster.url(at), 'host_metrics.get_all_records');
  const m = metrics.arguments as Record<string, { live: boolean }>;
  return Object.fromEntries(Object.values(hosts.arguments as Record<string, { name_label: string; metrics: string }>)
    .map((h) => [h.name_label, m[h.metrics]?.live === true]));
}

export async function allLive(cluster: PoolCluster, master = 'host1'): Promise<void> {
  await waitFor(async () => Object.values(await liveness(cluster, master)).every(Boolean), { timeoutMs: 30_000, what: `every host live on ${master}` });
}

/** Error name of a failed Kea answer from this library (arguments carry {error, params}). */
/** The XenAPI error of a failed Kea answer fetched with `errorDetail` (see `kea` below). */
export function errorOf(a: { result: number; error?: string; params?: string[] }): { error?: string; params?: string[] } {
  return a.result === 0 ? {} : { error: a.error, params: a.params };
}

/** A Kea-channel command that asks for the error name and params on failures, as liveset peers do. */
export const kea = (url: string, command: string, args?: unknown) => keaCommand(url, command, args, { errorDetail: true });

/**
 * Polls every host's own view until stopped and records each moment two hosts acted as master.
 * Hosts that are down simply do not answer. The loop is also stopped by `t.after`, so a test that
 * fails before calling stop() does not leave it polling (and the file hanging) forever.
 */
export function watchMasters(cluster: PoolCluster, t: { after(fn: () => unknown): void }): { stop(): Promise<string[]> } {
  const violations: string[] = [];
  let running = true;
  let pause: { timer: NodeJS.Timeout; wake: () => void } | undefined;
  const loop = (async () => {
    while (running) {
      const views = await Promise.all(cluster.names.map(async (n) => [n, await cluster.status(n)] as const));
      const masters = views.filter(([, s]) => s?.['role'] === 'master').map(([n]) => n);
      if (masters.length > 1) violations.push(`${masters.join(' + ')} at ${new Date().toISOString()}`);
      if (running) await new Promise<void>((wake) => (pause = { timer: setTimeout(wake, 25), wake }));
    }
  })();
  const stop = async () => {
    running = false;
    if (pause) {
      clearTimeout(pause.timer);
      pause.wake();
    }
    await loop;
    return violations;
  };
  t.after(stop);
  return { stop };
}

/** Waits until every host in `up` follows one acting master and no promise or change is pending; returns the master. */
export async function convergence(cluster: PoolCluster, up: string[] = cluster.names): Promise<string> {
  let master = '';
  await waitFor(async () => {
    const views = await Promise.all(up.map(async (n) => [n, await cluster.status(n)] as const));
    const masters = views.filter(([, s]) => s?.['role'] === 'master').map(([n]) => n);
    if (masters.length !== 1 || views.some(([, s]) => s === undefined)) return false;
    master = masters[0] as string;
    const address = views.find(([n]) => n === master)?.[1]?.['address'];
    return views.every(([, s]) => s?.['master_address'] === address && s?.['proposal'] === undefined && s?.['coordination'] === undefined);
  }, { timeoutMs: 30_000, what: 'one master that every host follows' });
  return master;
}
