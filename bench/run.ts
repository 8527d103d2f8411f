import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { failover, type FailoverOptions } from './failover.ts';
import { fanin, type FaninOptions } from './fanin.ts';
import { stopAll } from './lib/children.ts';
import { machineDescription } from './lib/machine.ts';
import { markdownTable, textTable, type Row } from './lib/report.ts';
import { memory } from './memory.ts';
import { profileControlChannel, profileHeartbeats, profileMarkdown } from './profile.ts';
import { redo, type RedoOptions } from './redo.ts';
import { throughput, type ThroughputOptions } from './throughput.ts';

/**
 * `npm run bench [-- --quick] [--out FILE] [--no-profile]`: measures liveset beside baselines
 * started in the same run, prints the table and rewrites BENCHMARKS.md. Nothing passes or fails.
 */
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const { values } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, out: { type: 'string' }, 'no-profile': { type: 'boolean', default: false } },
  strict: true,
});
const quick = values.quick === true;
const out = values.out ?? `${ROOT}BENCHMARKS.md`;
/** Below this liveset/baseline ratio a figure counts as far from its baseline and gets a profile. */
const FAR = 0.5;

interface Plan {
  throughput: ThroughputOptions;
  failover: FailoverOptions;
  fanin: FaninOptions;
  redo: RedoOptions;
  memorySettleMs: number;
  profileMs: number;
}
const plan: Plan = quick
  ? {
      throughput: { durationMs: 600, warmupMs: 200, rounds: 1, concurrency: [16] },
      failover: { timings: [{ heartbeatMs: 100, maxResponseMs: 300, kills: 2 }] },
      fanin: { hosts: [64, 1000], warmupMs: 800, durationMs: 1200, floodConnections: 32 },
      redo: { rounds: 1, durationMs: 600, writers: 64, recoverySizes: [10_000, 100_000] },
      memorySettleMs: 500,
      profileMs: 0,
    }
  : {
      throughput: { durationMs: 3000, warmupMs: 700, rounds: 2, concurrency: [1, 16, 64] },
      failover: {
        timings: [
          { heartbeatMs: 1000, maxResponseMs: 3000, kills: 10 },
          { heartbeatMs: 100, maxResponseMs: 300, kills: 10 },
        ],
      },
      fanin: { hosts: [64, 256, 1000], warmupMs: 2000, durationMs: 5000, floodConnections: 64 },
      redo: { rounds: 3, durationMs: 2000, writers: 64, recoverySizes: [10_000, 100_000] },
      memorySettleMs: 2000,
      profileMs: 5000,
    };

const log = (s: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
process.on('SIGINT', () => {
  log('interrupted: stopping children');
  void stopAll().finally(() => process.exit(130));
});

const startedAt = new Date();
const machine = machineDescription();
const rows: Row[] = [];
const notes: string[] = [];
const profiles: string[] = [];

async function section<T>(name: string, run: () => Promise<T>): Promise<T | undefined> {
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

try {
  const tp = await section('control channel', () => throughput(plan.throughput));
  const fo = await section('failover', () => failover(plan.failover));
  const fi = await section('heartbeat fan-in', () => fanin(plan.fanin));
  const rd = await section('redo log', () => redo(plan.redo));
  const mem = await section('memory', () => memory(plan.memorySettleMs, { rss: fi?.masterRssMiB ?? NaN, baseRss: fi?.baseRssMiB ?? NaN, hosts: fi?.hosts ?? 0 }));
  for (const s of [tp, fo, fi, rd, mem]) if (s) (rows.push(...s.rows), notes.push(...s.notes));

  if (plan.profileMs > 0 && !values['no-profile']) {
    if (tp && tp.worst.ratio < FAR) {
      const p = await section('profile: control channel', () => profileControlChannel(tp.worst.load, plan.profileMs));
      if (p) profiles.push(profileMarkdown(`Control channel: ${tp.worst.what} (liveset/baseline ${tp.worst.ratio.toFixed(2)} req/s)`, p));
    }
    if (fi && fi.floodRatio < FAR) {
      const p = await section('profile: heartbeat flood', () => profileHeartbeats(plan.fanin.floodConnections, plan.profileMs));
      if (p) profiles.push(profileMarkdown(`Pool master under a heartbeat flood (${plan.fanin.floodConnections} connections; liveset/baseline ${fi.floodRatio.toFixed(2)} beats/s)`, p));
    }
  }
} finally {
  await stopAll();
}

const took = (Date.now() - startedAt.getTime()) / 1000;
console.log(textTable(rows));
console.log(`\n${quick ? 'quick' : 'full'} run, ${took.toFixed(0)} s; machine: ${machine[0]}`);

const analysisFile = `${ROOT}bench/analysis.md`;
const md = [
  '# Benchmarks',
  '',
  `Written by \`npm run bench${quick ? ' -- --quick' : ''}\` on ${startedAt.toISOString()} (${quick ? 'quick mode: short runs, fewer kills, no profiles — indicative only' : 'full run'}, ${took.toFixed(0)} s). ` +
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
              `Figures more than ${1 / FAR}× from their baseline were profiled in this run with \`node --cpu-prof\` on the server child ` +
                '(self time per function; the profile spans the whole process life, so module loading under tsx appears too).',
              '',
              ...profiles.flatMap((p) => [p, '']),
            ]
          : []),
        ...(existsSync(analysisFile) ? [readFileSync(analysisFile, 'utf8').trim(), ''] : []),
      ]
    : []),
].join('\n');
writeFileSync(out, md);
log(`wrote ${out}`);
process.exit(0);
