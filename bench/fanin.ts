import { keaCommand, startLiveset } from '../test/helpers/liveset.ts';
import { runScript, startScript, startServerScript, stopChild } from './lib/children.ts';
import { BENCH_POOL_SECRET, poolConfig } from './lib/configs.ts';
import { cpuSeconds, rssMiB } from './lib/proc.ts';
import { fmt, ms, ratio, type Row, type SectionResult } from './lib/report.ts';

export interface FaninOptions {
  readonly hosts: readonly number[];
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly floodConnections: number;
}

interface BeatReport {
  beats: number;
  errors: number;
  firstError?: string;
  perSecond: number;
  p50: number;
  p99: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Brings every host of a freshly started master live: a paced client runs until the master's
 * database says so. A host's first heartbeat is a durable change (live: false -> true, one
 * transaction each), so right after start the master does far more per heartbeat than in the
 * steady state the CPU-share line is about; on a busy machine that lasted into its window. Returns
 * how long it took and a stop for the client (stopped once the measured client runs, so the hosts
 * never miss a beat).
 */
async function bringLive(url: string, hosts: string[]): Promise<{ ms: number; stop(): Promise<void> }> {
  const run = startScript('heartbeat-client.ts', { url, hosts, mode: 'paced', intervalMs: 1000, connections: 0, warmupMs: 0, durationMs: 60_000, poolSecret: BENCH_POOL_SECRET });
  const t0 = performance.now();
  try {
    for (;;) {
      await sleep(250);
      const metrics = (await keaCommand(url, 'host_metrics.get_all_records')).arguments as Record<string, { live: boolean }>;
      if (Object.values(metrics).filter((m) => m.live).length >= hosts.length + 1) break;
      if (performance.now() - t0 > 30_000) throw new Error('the hosts were not all live 30 s after their first heartbeats');
    }
  } catch (err) {
    await stopChild(run.child);
    throw err;
  }
  return { ms: performance.now() - t0, stop: () => stopChild(run.child) };
}

/** Runs the heartbeat client against `url` and measures `pid`'s CPU share over the measured window. */
async function paced(url: string, pid: number, hosts: string[], o: FaninOptions, handOver?: () => Promise<void>): Promise<{ share: number; report: BeatReport }> {
  const run = startScript('heartbeat-client.ts', { url, hosts, mode: 'paced', intervalMs: 1000, connections: 0, warmupMs: o.warmupMs, durationMs: o.durationMs, poolSecret: BENCH_POOL_SECRET });
  await handOver?.();
  await sleep(o.warmupMs);
  const c0 = cpuSeconds(pid);
  const t0 = performance.now();
  await sleep(o.durationMs);
  const share = (cpuSeconds(pid) - c0) / ((performance.now() - t0) / 1000);
  return { share, report: (await run.result) as BeatReport };
}

const pct = (share: number) => `${(share * 100).toFixed(1)} % of a core`;
const beats = (r: BeatReport) => `${fmt(r.perSecond)} beats/s, p50 ${ms(r.p50)}, p99 ${ms(r.p99)}${r.errors ? `, ${r.errors} errors (${r.firstError})` : ''}`;

/**
 * Heartbeat fan-in on a pool master. For each size a master is started with a pool of that many
 * hosts plus itself; a load process sends host.tickle_heartbeat for every other host at 1 Hz. The
 * baseline is the bare node:http server taking the same paced load. A flood run then finds the
 * most heartbeats per second the master answers: the number of hosts it sustains at 1 Hz.
 */
export async function fanin(o: FaninOptions): Promise<SectionResult & { masterRssMiB: number; baseRssMiB: number; hosts: number; floodRatio: number }> {
  const rows: Row[] = [];
  let masterRssMiB = NaN;
  let baseRssMiB = NaN;
  let floodRatio = NaN;
  const biggest = Math.max(...o.hosts);
  const base = await startServerScript('baseline-http.ts', {});
  try {
    for (const n of o.hosts) {
      const master = await startLiveset({ config: await poolConfig(n + 1), server: 'host0' });
      try {
        const records = (await keaCommand(master.url, 'host.get_all_records')).arguments as Record<string, { name_label: string }>;
        const refs = Object.entries(records).filter(([, h]) => h.name_label !== 'host0').map(([ref]) => ref);
        if (refs.length !== n) throw new Error(`the master holds ${refs.length} other host records, not ${n}`);
        const live = await bringLive(master.url, refs);
        const l = await paced(master.url, master.pid!, refs, o, live.stop);
        const b = await paced(base.url, base.child.pid!, refs, o);
        rows.push({
          group: 'heartbeat fan-in',
          what: `pool master, ${n} hosts at 1 Hz: CPU share`,
          liveset: `${pct(l.share)}; ${beats(l.report)}`,
          baseline: `node:http: ${pct(b.share)}; ${beats(b.report)}`,
          ratio: `${ratio(l.share, b.share, 'CPU')}; ${ratio(l.report.p99, b.report.p99, 'p99')}`,
        });
        rows.push({
          group: 'heartbeat fan-in',
          what: `pool master, ${n} hosts: first heartbeats until every host is live (one durable change each)`,
          liveset: ms(live.ms),
          baseline: '-',
          ratio: '-',
        });
        if (n === biggest) {
          masterRssMiB = rssMiB(master.pid!);
          baseRssMiB = rssMiB(base.child.pid!);
          const flood = { url: '', hosts: refs, mode: 'flood', intervalMs: 1000, connections: o.floodConnections, warmupMs: 500, durationMs: Math.max(1000, o.durationMs / 2), poolSecret: BENCH_POOL_SECRET };
          const lf = await runScript<BeatReport>('heartbeat-client.ts', { ...flood, url: master.url });
          const bf = await runScript<BeatReport>('heartbeat-client.ts', { ...flood, url: base.url });
          floodRatio = lf.perSecond / bf.perSecond;
          rows.push({
            group: 'heartbeat fan-in',
            what: `pool master, ${n} hosts: most heartbeats/s answered (${o.floodConnections} connections back to back) = hosts sustainable at 1 Hz`,
            liveset: beats(lf),
            baseline: `node:http: ${beats(bf)}`,
            ratio: ratio(lf.perSecond, bf.perSecond, 'beats/s'),
          });
        }
      } finally {
        await master.stop();
      }
    }
  } finally {
    await base.stop();
  }
  return {
    rows,
    masterRssMiB,
    baseRssMiB,
    hosts: biggest,
    floodRatio,
    notes: [
      'Heartbeat fan-in: one pool master per size, configured with that many other hosts whose URLs are unused 127.0.0.1 ports ' +
        '(the master never calls its slaves; they call it). bench/heartbeat-client.ts sends `host.tickle_heartbeat` for every host once a second, ' +
        'spread evenly, each host\'s next beat after its previous answer, as a slave does. CPU share is utime+stime of the master from /proc/<pid>/stat ' +
        `over ${o.durationMs} ms after ${o.warmupMs} ms warm-up, once every host is live: a freshly started master first takes each host's first heartbeat ` +
        'as a durable change (live: false -> true, one transaction each; the "until every host is live" line times it, polling host_metrics.get_all_records ' +
        'every 250 ms), and the CPU-share line is about the steady state after. The baseline is the bare node:http server under the identical load. ' +
        'Each pool really has N + 1 host records (the master and N slaves; `max-hosts` is raised above xapi\'s default of 64 for the bigger pools), ' +
        'and every simulated slave heartbeats as its own host. A steady heartbeat is soft state (an in-memory liveness update, no redo-log write); ' +
        'only a change of `live` is written.',
    ],
  };
}
