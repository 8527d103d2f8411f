import { keaCommand, startLiveset } from '../test/helpers/liveset.ts';
import { runScript, startScript, startServerScript } from './lib/children.ts';
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

/** Runs the heartbeat client against `url` and measures `pid`'s CPU share over the measured window. */
async function paced(url: string, pid: number, hosts: string[], o: FaninOptions): Promise<{ share: number; report: BeatReport }> {
  const run = startScript('heartbeat-client.ts', { url, hosts, mode: 'paced', intervalMs: 1000, connections: 0, warmupMs: o.warmupMs, durationMs: o.durationMs, poolSecret: BENCH_POOL_SECRET });
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
        const l = await paced(master.url, master.pid!, refs, o);
        const b = await paced(base.url, base.child.pid!, refs, o);
        rows.push({
          group: 'heartbeat fan-in',
          what: `pool master, ${n} hosts at 1 Hz: CPU share`,
          liveset: `${pct(l.share)}; ${beats(l.report)}`,
          baseline: `node:http: ${pct(b.share)}; ${beats(b.report)}`,
          ratio: `${ratio(l.share, b.share, 'CPU')}; ${ratio(l.report.p99, b.report.p99, 'p99')}`,
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
        `over ${o.durationMs} ms after ${o.warmupMs} ms warm-up. The baseline is the bare node:http server under the identical load. ` +
        'Each pool really has N + 1 host records (the master and N slaves; `max-hosts` is raised above xapi\'s default of 64 for the bigger pools), ' +
        'and every simulated slave heartbeats as its own host. A steady heartbeat is soft state (an in-memory liveness update, no redo-log write); ' +
        'only a change of `live` is written.',
    ],
  };
}
