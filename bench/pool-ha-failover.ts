import { keaCommand, waitFor } from '../test/helpers/liveset.ts';
import { startHaPool, type HaPool } from '../test/integration/pool-ha-helpers.ts';
import { EtcdCluster } from '../test/helpers/etcd-cluster.ts';
import { fmt, ratio, type Row, type SectionResult } from './lib/report.ts';
import { summarize } from './lib/stats.ts';

export interface PoolHaFailoverOptions {
  /** Base timeouts T in seconds, and kills of the master at each. */
  readonly timings: readonly { readonly tSeconds: number; readonly kills: number; readonly stack?: 'xhad' | 'etcd' }[];
}

export async function status(pool: HaPool, name: string): Promise<Record<string, any> | undefined> {
  try {
    const a = await keaCommand(pool.url(name), 'host.local_status', undefined, { timeoutMs: 1000 });
    return a.result === 0 ? a.arguments : undefined;
  } catch {
    return undefined;
  }
}

/** The one host every live host follows as master, or undefined. */
export async function agreedMaster(pool: HaPool, up: readonly string[]): Promise<string | undefined> {
  const views = await Promise.all(up.map(async (n) => [n, await status(pool, n)] as const));
  const masters = views.filter(([, s]) => s?.['role'] === 'master');
  if (masters.length !== 1 || views.some(([, s]) => s === undefined)) return undefined;
  const [name, s] = masters[0] as readonly [string, Record<string, any>];
  return views.every(([, v]) => v?.['master_address'] === s['address']) ? name : undefined;
}

/**
 * kill -9 of the master of a three-host HA pool, `kills` times: the time until a survivor is
 * master and every live host follows it (polled every 20 ms on each survivor's host.local_status).
 * The killed host is restarted and has rejoined the liveset before the next kill.
 */
async function measure(tSeconds: number, kills: number, stack: 'xhad' | 'etcd'): Promise<number[]> {
  const etcd = stack === 'etcd' ? await EtcdCluster.start() : undefined;
  const pool = await startHaPool(3, etcd ? { etcd: { endpoints: etcd.endpoints() } } : {}).catch(async (err) => {
    await etcd?.stop();
    throw err;
  });
  const took: number[] = [];
  try {
    const enable = await keaCommand(pool.url('host1'), 'pool.enable_ha', { heartbeat_srs: [pool.srRef], configuration: { timeout: String(tSeconds) } }, { timeoutMs: (tSeconds + 70) * 1000 });
    if (enable.result !== 0) throw new Error(`pool.enable_ha: ${enable.text}`);
    for (let i = 0; i < kills; i++) {
      const master = (await waitFor(() => agreedMaster(pool, pool.names), { timeoutMs: 60_000, intervalMs: 50, what: 'one master every host follows' })) as string;
      await waitFor(async () => (await status(pool, master))?.['ha']?.['liveset']?.length === 3, { timeoutMs: 60_000, what: 'all three hosts in the liveset' });
      // Kill at a random point of the heartbeat cycle, as a real crash would.
      await new Promise((r) => setTimeout(r, Math.random() * 1000));
      const up = pool.names.filter((n) => n !== master);
      const killedAt = performance.now();
      await pool.hosts.get(master)!.kill();
      await waitFor(async () => (await agreedMaster(pool, up)) !== undefined, { timeoutMs: tSeconds * 1000 * 4 + 10_000, intervalMs: 20, what: 'a new master' });
      took.push(performance.now() - killedAt);
      await pool.hosts.get(master)!.restart();
    }
  } finally {
    await pool.stopAll();
    await etcd?.stop();
  }
  return took;
}

/** Pool HA failover: master kill → new master on every live host, beside T (the detection timeout itself). */
export async function poolHaFailover(o: PoolHaFailoverOptions): Promise<SectionResult> {
  const rows: Row[] = [];
  for (const { tSeconds, kills, stack = 'xhad' } of o.timings) {
    const s = summarize(await measure(tSeconds, kills, stack));
    const tMs = tSeconds * 1000;
    rows.push({
      group: 'pool HA failover',
      what: `3 hosts, ${stack === 'etcd' ? `etcd stack, lease TTL = T = ${tSeconds} s` : `T = ${tSeconds} s`}: kill -9 master → new master followed by every live host, N=${kills} (min / median / max)`,
      liveset: `${fmt(s.min)} / ${fmt(s.median)} / ${fmt(s.max)} ms`,
      baseline: `T = ${fmt(tMs)} ms (goal ≤ T + 1 s)`,
      ratio: `${ratio(s.median, tMs, 'median')}; ${ratio(s.max, tMs, 'max')}`,
    });
  }
  return {
    rows,
    notes: [
      'Pool HA failover: three real hosts with the xhad stack on a temporary statefile directory; the master is killed with SIGKILL at a random ' +
        'point of the heartbeat cycle; the time runs from the kill to the first poll (every 20 ms, host.local_status on both survivors) where one ' +
        'survivor acts as master and both follow it. The baseline is T, the silence after which a host may be treated as dead, so the ratio says ' +
        'how much detection, the master lock and the take-over from the HA redo log add to it. T < 10 s runs under testing only. ' +
        'The etcd rows run the same pool on the etcd stack against a real three-member etcd on 127.0.0.1: detection is the lease TTL (= T), ' +
        'the election is etcd\'s, and the new master replays the HA redo log from etcd (goal ≤ TTL + 1 s).',
    ],
  };
}
