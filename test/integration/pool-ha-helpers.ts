import { fileURLToPath } from 'node:url';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import assert from 'node:assert/strict';
import { freePorts, keaCommand, startMembers, waitFor } from '../helpers/liveset.ts';
import { kea, TIMERS, type PoolCluster } from './pool-helpers.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

/** T for the HA tests: small (allowed under testing) but well above scheduling noise on a loaded box. */
export const T_SECONDS = 4;

export interface HaPool extends PoolCluster {
  /** The shared statefile directory (the heartbeat SR's device_config.location). */
  readonly statefileDir: string;
  readonly srRef: string;
}

/**
 * N real liveset processes running the pool library with fault injection (so a small T is
 * allowed), all live, and a shared `file` SR whose location is a temporary directory. The caller
 * must stopAll() in t.after.
 */
export async function startHaPool(
  n: 2 | 3,
  opts: {
    extra?: Record<string, unknown>;
    /** Make the heartbeat SR an `etcd` SR naming these client URLs (the etcd stack) instead of a `file` SR. */
    etcd?: { endpoints: readonly string[]; prefix?: string };
    /** Further hook libraries after the pool (paths relative to test/fixtures, the hooks directory). */
    libraries?: readonly { library: string; parameters?: unknown }[];
    /** Extra environment per host, for ${VAR} in `extra` where hosts differ (e.g. each host's TLS files). */
    hostEnv?: (name: string) => Record<string, string>;
  } = {},
): Promise<HaPool> {
  const names = ['host1', 'host2', 'host3'].slice(0, n);
  const ports = await freePorts(n);
  const dataRoot = mkdtempSync(join(tmpdir(), 'liveset-pool-ha-'));
  const statefileDir = join(dataRoot, 'heartbeat-sr');
  mkdirSync(statefileDir);
  const urls = new Map(names.map((nm, i) => [nm, `http://127.0.0.1:${ports[i]}/`]));
  const config = {
    server: { 'data-dir': join(dataRoot, '${server}'), ...(opts.libraries ? { 'hooks-directory': FIXTURES } : {}) },
    logging: { level: 'info', format: 'json' },
    testing: { 'fault-injection': true },
    'hooks-libraries': [{
      library: 'pool',
      parameters: {
        name: 'ha-pool', master: 'host1',
        hosts: names.map((nm) => ({ name: nm, url: urls.get(nm) })),
        credentials: [{ user: 'root', password: 'secret' }],
        ...TIMERS, 'assumed-dead-interval': 3000,
        ...opts.extra,
      },
    }, ...(opts.libraries ?? []).map((l) => ({ ...l, library: join(FIXTURES, l.library) }))],
  };
  const { servers: hosts, stopAll } = await startMembers(config, names, () => rmSync(dataRoot, { recursive: true, force: true }), undefined, opts.hostEnv);
  const url = (nm: string) => urls.get(nm) as string;
  const status = async (nm: string) => {
    try {
      const a = await kea(url(nm), 'host.local_status');
      return a.result === 0 ? (a.arguments as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  };
  const refs = async (at: string) => {
    const a = await kea(url(at), 'host.get_all_records');
    assert.equal(a.result, 0, `host.get_all_records on ${at}: ${a.text}`);
    return Object.fromEntries(Object.entries(a.arguments as Record<string, { name_label: string }>).map(([ref, h]) => [h.name_label, ref]));
  };
  let srRef = '';
  try {
    await waitFor(async () => {
      const m = await kea(url('host1'), 'host_metrics.get_all_records');
      return m.result === 0 && Object.values(m.arguments as Record<string, { live: boolean }>).every((x) => x.live);
    }, { timeoutMs: 60_000, what: 'every host live' });
    const r = await refs('host1');
    const sr = await kea(url('host1'), 'SR.create', {
      host: r['host1'],
      device_config: opts.etcd ? { endpoints: opts.etcd.endpoints.join(','), ...(opts.etcd.prefix ? { prefix: opts.etcd.prefix } : {}) } : { location: statefileDir },
      physical_size: 0, name_label: opts.etcd ? 'etcd' : 'heartbeat', name_description: '',
      type: opts.etcd ? 'etcd' : 'file', content_type: '', shared: true, sm_config: {},
    });
    assert.equal(sr.result, 0, `SR.create: ${sr.text}`);
    srRef = sr.arguments as string;
  } catch (err) {
    await stopAll();
    throw err;
  }
  const secret = () => readFileSync(join(dirname(hosts.get('host1')?.configFile as string), 'pool-secret'), 'utf8').trim();
  const asPeer = (nm: string, command: string, args?: unknown) =>
    keaCommand(url(nm), command, args, { errorDetail: true, headers: { Authorization: `Basic ${Buffer.from(`liveset-pool:${secret()}`).toString('base64')}` } });
  return { names, hosts, urls, config, url, refs, status, secret, asPeer, stopAll, statefileDir, srRef };
}

export async function enableHa(pool: HaPool, t = T_SECONDS): Promise<void> {
  const a = await kea(pool.url('host1'), 'pool.enable_ha', { heartbeat_srs: [pool.srRef], configuration: { timeout: String(t) } });
  assert.equal(a.result, 0, `pool.enable_ha: ${a.text}`);
}

/** HA section of a host's local status. */
export async function haStatus(pool: HaPool, name: string): Promise<Record<string, any> | undefined> {
  return (await pool.status(name))?.['ha'] as Record<string, any> | undefined;
}

/** Which hosts act as master, by their own views (down hosts do not answer). */
export async function actingMasters(pool: HaPool, names = pool.names): Promise<string[]> {
  const views = await Promise.all(names.map(async (n) => [n, await pool.status(n)] as const));
  return views.filter(([, s]) => s?.['role'] === 'master').map(([n]) => n);
}

/**
 * Waits (bounded) for a host's process to exit and returns its code; on timeout the failure shows
 * its last HA log lines.
 */
export async function exitCode(h: { exited(): Promise<number | string | null>; logs(): string }, ms: number): Promise<number | string | null> {
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([h.exited(), new Promise<string>((r) => (timer = setTimeout(() => r('still running'), ms)))]);
  clearTimeout(timer);
  if (code === 'still running') {
    const lines = h.logs().split('\n').filter((l) => /POOL_HA|HA_|POOL_ETCD|POOL_ROLE|POOL_MASTER/.test(l)).slice(-15);
    assert.fail(`still running after ${ms} ms; last HA log lines:\n${lines.join('\n')}`);
  }
  return code;
}
