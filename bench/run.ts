import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { failover, type FailoverOptions } from './failover.ts';
import { fanin, type FaninOptions } from './fanin.ts';
import { stopAll } from './lib/children.ts';
import { machineDescription } from './lib/machine.ts';
import { markdownTable, textTable, type Row } from './lib/report.ts';
import { memory } from './memory.ts';
import { planner, type PlannerOptions } from './planner.ts';
import { poolHaFailover, type PoolHaFailoverOptions } from './pool-ha-failover.ts';
import { poolHaRestart, type PoolHaRestartOptions } from './pool-ha-restart.ts';
import { profileBaseline, profileControlChannel, profileHeartbeats, profileMarkdown } from './profile.ts';
import { redo, type RedoOptions } from './redo.ts';
import { startup, type StartupOptions } from './startup.ts';
import { throughput, type ThroughputOptions } from './throughput.ts';
import { fuzzBench } from './fuzz.ts';
import { etcdStore, type EtcdStoreOptions } from './etcd-store.ts';
import { robustnessSection } from './robustness.ts';

/**
 * `npm run bench [-- --quick] [--out FILE] [--no-profile] [--render RESULTS.json] [--fuzz N [--fuzz-seed S]]`: measures liveset beside baselines
 * started in the same run, prints the table and rewrites BENCHMARKS.md. Nothing passes or fails.
 */
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    out: { type: 'string' },
    'no-profile': { type: 'boolean', default: false },
    /** Re-writes BENCHMARKS.md from a run's saved results (e.g. after editing bench/analysis.md) without measuring again. */
    render: { type: 'string' },
    /** Comma-separated section names (e.g. `start-up,memory`): measure only those (the file is still rewritten). */
    only: { type: 'string' },
    /** Only fuzz: this many schema-driven inputs against a real server (bench/robustness.ts). */
    fuzz: { type: 'string' },
    'fuzz-seed': { type: 'string' },
    /** Stop fuzzing after this many minutes (the report says how many inputs ran). */
    'fuzz-minutes': { type: 'string' },
  },
  strict: true,
});
if (values.fuzz !== undefined) {
  const seed = Number(values['fuzz-seed'] ?? Date.now() % 1_000_000);
  process.exit(await fuzzBench(ROOT, Number(values.fuzz), seed, Number(values['fuzz-minutes'] ?? Infinity)));
}
const quick = values.quick === true;
const out = values.out ?? `${ROOT}BENCHMARKS.md`;
/**
 * A figure is far from its baseline when liveset does under half the baseline's work per second,
 * or spends over twice its CPU per request; such lines get a profile.
 */
const FAR = 2;

interface Plan {
  throughput: ThroughputOptions;
  failover: FailoverOptions;
  fanin: FaninOptions;
  redo: RedoOptions;
  startup: StartupOptions;
  planner: PlannerOptions;
  poolHa: PoolHaFailoverOptions;
  poolHaRestart: PoolHaRestartOptions;
  etcdStore: EtcdStoreOptions;
  memorySettleMs: number;
  profileMs: number;
}
const plan: Plan = quick
  ? {
      throughput: { durationMs: 600, warmupMs: 200, rounds: 1, concurrency: [16], warmupPass: false },
      failover: { timings: [{ heartbeatMs: 100, maxResponseMs: 300, kills: 2 }] },
      fanin: { hosts: [64, 1000], warmupMs: 800, durationMs: 1200, floodConnections: 32 },
      redo: { rounds: 1, durationMs: 600, writers: 64, recoverySizes: [10_000, 100_000], profile: false },
      startup: { runs: 3 },
      planner: { hosts: [16, 64], vms: [1000], failures: [1, 3], reps: 1, tight: [[16, 1000, 3]] },
      poolHa: { timings: [{ tSeconds: 3, kills: 2 }, { tSeconds: 2, kills: 2, stack: 'etcd' }] },
      poolHaRestart: { timings: [{ tSeconds: 3, kills: 2, masterKills: 1 }], protectedVms: 8, bestEffortVms: 4 },
      etcdStore: { writers: [1, 64], durationMs: 1000 },
      memorySettleMs: 500,
      profileMs: 0,
    }
  : {
      throughput: { durationMs: 3000, warmupMs: 700, rounds: 2, concurrency: [1, 16, 64], warmupPass: true },
      failover: {
        timings: [
          { heartbeatMs: 1000, maxResponseMs: 3000, kills: 10 },
          { heartbeatMs: 100, maxResponseMs: 300, kills: 10 },
        ],
      },
      fanin: { hosts: [64, 256, 1000], warmupMs: 2000, durationMs: 5000, floodConnections: 64 },
      redo: { rounds: 3, durationMs: 2000, writers: 64, recoverySizes: [10_000, 100_000], profile: !values['no-profile'] },
      startup: { runs: 10 },
      planner: { hosts: [16, 32, 64], vms: [1000, 5000], failures: [1, 2, 3], reps: 5, tight: [[16, 1000, 3], [16, 5000, 3], [32, 5000, 2]] },
      poolHa: { timings: [{ tSeconds: 3, kills: 10 }, { tSeconds: 10, kills: 10 }, { tSeconds: 2, kills: 10, stack: 'etcd' }, { tSeconds: 5, kills: 10, stack: 'etcd' }] },
      poolHaRestart: { timings: [{ tSeconds: 3, kills: 10, masterKills: 10 }, { tSeconds: 10, kills: 10, masterKills: 0 }], protectedVms: 8, bestEffortVms: 4 },
      etcdStore: { writers: [1, 16, 64], durationMs: 3000 },
      memorySettleMs: 2000,
      profileMs: 5000,
    };

const log = (s: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
process.on('SIGINT', () => {
  log('interrupted: stopping children');
  void stopAll().finally(() => process.exit(130));
});

interface Results {
  startedAt: string;
  took: number;
  quick: boolean;
  machine: string[];
  rows: Row[];
  notes: string[];
  profiles: string[];
}
const saved = values.render ? (JSON.parse(readFileSync(values.render, 'utf8')) as Results) : undefined;
const startedAt = new Date(saved?.startedAt ?? Date.now());
const machine = saved?.machine ?? machineDescription();
const rows: Row[] = saved?.rows ?? [];
const notes: string[] = saved?.notes ?? [];
const profiles: string[] = saved?.profiles ?? [];

const only = values.only?.split(',').map((x) => x.trim());

async function section<T>(name: string, run: () => Promise<T>): Promise<T | undefined> {
  if (only && !only.includes(name.startsWith('profile: ') ? 'profiles' : name)) return undefined;
  log(`${name}...`);
  const t0 = performance.now();
  try {
    return await run();
  } catch (err) {
    log(`${name} failed: ${(err as Error).stack ?? String(err)}`);
    rows.push({ group: name, what: 'section failed', liveset: String((err as Error).message).split('\n')[0]!, baseline: '-', ratio: '-' });
    return undefined;
  } finally {
    log(`${name} took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
}

if (!saved) try {
  const tp = await section('control channel', () => throughput(plan.throughput));
  const fo = await section('failover', () => failover(plan.failover));
  const fi = await section('heartbeat fan-in', () => fanin(plan.fanin));
  const rd = await section('redo log', () => redo(plan.redo));
  const pl = await section('failover planner', () => planner(plan.planner));
  const ph = await section('pool HA failover', () => poolHaFailover(plan.poolHa));
  const pr = await section('pool HA restarts', () => poolHaRestart(plan.poolHaRestart));
  const es = await section('etcd stack', () => etcdStore(plan.etcdStore));
  const mem = await section('memory', () => memory(plan.memorySettleMs, { rss: fi?.masterRssMiB ?? NaN, baseRss: fi?.baseRssMiB ?? NaN, hosts: fi?.hosts ?? 0 }));
  const su = await section('start-up', () => startup(plan.startup));
  for (const s of [tp, fo, fi, rd, pl, ph, pr, es, mem, su]) if (s) (rows.push(...s.rows), notes.push(...s.notes));
  const recoveryProfile = rd?.profile;

  if (plan.profileMs > 0 && !values['no-profile']) {
    if (tp) {
      // The line furthest from its baseline in CPU per request, and status-get (the command Kea's figure is for).
      const far = tp.measured.filter((m) => m.cpuRatio >= FAR || m.rpsRatio <= 1 / FAR).sort((a, b) => b.cpuRatio - a.cpuRatio);
      const statusGet = tp.measured.find((m) => m.what.startsWith('Kea POST / status-get, 16'));
      const chosen = [...new Set([far[0], statusGet].filter((m) => m !== undefined))];
      for (const m of chosen) {
        const p = await section(`profile: ${m.what}`, () => profileControlChannel(m.load, plan.profileMs));
        const b = await section(`profile: baseline for ${m.what}`, () => profileBaseline(m.load, plan.profileMs));
        if (p) profiles.push(profileMarkdown(`Control channel: ${m.what} (liveset/baseline: ${m.rpsRatio.toFixed(2)} req/s, ${m.cpuRatio.toFixed(2)} CPU/req)`, p, b));
      }
    }
    if (fi && fi.floodRatio <= 1 / FAR) {
      const p = await section('profile: heartbeat flood', () => profileHeartbeats(plan.fanin.floodConnections, plan.profileMs));
      if (p) profiles.push(profileMarkdown(`Pool master under a heartbeat flood (${plan.fanin.floodConnections} connections; liveset/baseline ${fi.floodRatio.toFixed(2)} beats/s)`, p));
    }
    if (recoveryProfile) profiles.push(recoveryProfile);
  }
} finally {
  await stopAll();
}

const took = saved?.took ?? (Date.now() - startedAt.getTime()) / 1000;
const isQuick = saved?.quick ?? quick;
console.log(textTable(rows));
console.log(`\n${isQuick ? 'quick' : 'full'} run, ${took.toFixed(0)} s; machine: ${machine[0]}`);
if (!saved) {
  machine.push(`Load average when the run ended: ${loadavg().map((x) => x.toFixed(2)).join(', ')} (other work shares this machine)`);
  const resultsFile = join(tmpdir(), `liveset-bench-results-${startedAt.toISOString().replaceAll(':', '')}.json`);
  const results: Results = { startedAt: startedAt.toISOString(), took, quick, machine, rows, notes, profiles };
  writeFileSync(resultsFile, JSON.stringify(results, null, 1));
  log(`results saved to ${resultsFile} (re-render with --render ${resultsFile})`);
}

const analysisFile = `${ROOT}bench/analysis.md`;
const md = [
  '# Benchmarks',
  '',
  `Written by \`npm run bench${isQuick ? ' -- --quick' : ''}\` on ${startedAt.toISOString()} (${isQuick ? 'quick mode: short runs, fewer kills, no profiles — indicative only' : 'full run'}, ${took.toFixed(0)} s). ` +
    'Every liveset figure stands beside a baseline measured in the same run on the same machine, and as a ratio; absolute numbers on a shared virtual machine mean little. ' +
    'Nothing here passes or fails.',
  '',
  '## Machine',
  '',
  ...machine.map((m) => `- ${m}`),
  '',
  '## Commands',
  '',
  '```sh',
  'npm run bench              # full run, several minutes, rewrites BENCHMARKS.md',
  'npm run bench -- --quick   # under a minute, smaller samples, no profiles',
  'npm run bench -- --out /tmp/b.md --no-profile',
  'npm run bench -- --only start-up,memory --out /tmp/b.md   # some sections only (names as in the Results table\'s group column)',
  'npm run bench -- --render /tmp/liveset-bench-results-<time>.json   # re-write this file from a saved run',
  '```',
  '',
  'Only 127.0.0.1 is used. Every process (liveset servers, baseline servers, load clients) is a child of the run and is stopped by it.',
  '',
  '## Results',
  '',
  markdownTable(rows),
  '',
  '## How each figure is taken',
  '',
  ...notes.flatMap((n) => [`- ${n}`]),
  '',
  ...(profiles.length > 0 || existsSync(analysisFile)
    ? [
        '## Where the time goes',
        '',
        ...(profiles.length > 0
          ? [
              `Figures more than ${FAR}× from their baseline were profiled in this run with \`node --cpu-prof\` on the server child ` +
                '(self time per function, counting only samples taken while the load ran).',
              '',
              ...profiles.flatMap((p) => [p, '']),
            ]
          : []),
        ...(existsSync(analysisFile) ? [readFileSync(analysisFile, 'utf8').trim(), ''] : []),
      ]
    : []),
  ...robustnessSection(ROOT),
].join('\n');
writeFileSync(out, md);
log(`wrote ${out}`);
process.exit(0);
