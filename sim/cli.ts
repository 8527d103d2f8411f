import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { recordRobustness, stampLine } from '../bench/robustness.ts';
import { fmt } from '../bench/lib/report.ts';
import { describeFault } from './faults.ts';
import type { Profile } from './profile.ts';
import { profileByName } from './profiles/index.ts';
import { describeViolation, runSeed, type RunResult } from './run-seed.ts';
import { shrinkSeed } from './shrink.ts';

const USAGE = `usage: npm run sim -- [--seeds N] [--from S] [--profile pair|pool|pool-ha|all]
       npm run sim -- --seed S [--profile P] [--trace] [--drop 0,3]
  --seeds N     run seeds S..S+N-1 of each profile (default 200)
  --from S      first seed (default 1)
  --seed S      run one seed and print its trace (--trace adds every message)
  --drop LIST   leave out these fault-plan entries (what a shrunk failure prints)
  --json        one JSON summary line per profile instead of text
  --record      write the figures (seeds/s, failures) into BENCHMARKS.md`;

interface Summary {
  profile: string;
  seeds: number;
  failures: number[];
  seconds: number;
  seedsPerSecond: number;
  steps: number;
  messages: number;
  maxConvergenceMs: number;
}

function replayCommand(r: RunResult): string {
  const drop = r.dropped.length > 0 ? ` --drop ${r.dropped.join(',')}` : '';
  return `npm run sim -- --profile ${r.profile} --seed ${r.seed}${drop} --trace`;
}

async function reportFailure(r: RunResult, profile: Profile): Promise<void> {
  console.log(`\nFAIL ${r.profile} seed ${r.seed}: ${describeViolation(r.violation!)}`);
  console.log(`  variant: ${r.variant}`);
  const small = await shrinkSeed(r, profile);
  const kept = small.plan.map((f, i) => ({ f, i })).filter(({ i }) => !small.dropped.includes(i));
  console.log(`  shrunk to ${kept.length} of ${r.plan.length} faults:`);
  for (const { f, i } of kept) console.log(`    #${i} at ${(f.at / 1000).toFixed(3)}s ${describeFault(f)}`);
  console.log(`  replay: ${replayCommand(small)}`);
  console.log('  last lines of the shrunk trace:');
  for (const line of small.trace.slice(-25)) console.log(`    ${line}`);
}

async function runMany(profile: Profile, from: number, count: number): Promise<Summary> {
  const started = performance.now();
  const s: Summary = { profile: profile.name, seeds: count, failures: [], seconds: 0, seedsPerSecond: 0, steps: 0, messages: 0, maxConvergenceMs: 0 };
  for (let seed = from; seed < from + count; seed++) {
    const r = await runSeed({ seed, profile });
    s.steps += r.steps;
    s.messages += r.messages;
    s.maxConvergenceMs = Math.max(s.maxConvergenceMs, r.convergedAfterMs ?? 0);
    if (r.violation !== undefined) {
      s.failures.push(seed);
      await reportFailure(r, profile);
    }
  }
  s.seconds = (performance.now() - started) / 1000;
  s.seedsPerSecond = Math.round(count / s.seconds);
  return s;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      seeds: { type: 'string' }, from: { type: 'string' }, seed: { type: 'string' }, profile: { type: 'string' },
      trace: { type: 'boolean' }, drop: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' }, record: { type: 'boolean' },
    },
  });
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  const int = (v: string | undefined, name: string, dflt: number): number => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, not '${v}'`);
    return n;
  };
  if (values.seed !== undefined) {
    const [profile] = profileByName(values.profile ?? 'pair');
    const drop = new Set((values.drop ?? '').split(',').filter((x) => x !== '').map((x) => int(x, 'drop', 0)));
    const r = await runSeed({ seed: int(values.seed, 'seed', 1), profile: profile!, verbose: values.trace === true, drop });
    console.log(r.plan.map((f, i) => `plan #${i} at ${(f.at / 1000).toFixed(3)}s ${describeFault(f)}${drop.has(i) ? ' (dropped)' : ''}`).join('\n'));
    console.log(r.trace.join('\n'));
    return r.violation === undefined ? 0 : 1;
  }
  const from = int(values.from, 'from', 1);
  const count = int(values.seeds, 'seeds', 200);
  let failed = 0;
  const summaries: Summary[] = [];
  for (const profile of profileByName(values.profile ?? 'all')) {
    const s = await runMany(profile, from, count);
    summaries.push(s);
    failed += s.failures.length;
    if (values.json === true) console.log(JSON.stringify(s));
    else {
      console.log(
        `${s.profile}: ${s.seeds} seeds from ${from}, ${s.failures.length} failed${s.failures.length ? ` (${s.failures.join(', ')})` : ''}; ` +
          `${s.seedsPerSecond} seeds/s, ${s.steps} steps, ${s.messages} messages, slowest convergence ${s.maxConvergenceMs} ms`,
      );
    }
  }
  if (values.record === true) record(summaries, from, count, values.profile ?? 'all');
  return failed === 0 ? 0 : 1;
}

function record(summaries: readonly Summary[], from: number, count: number, profile: string): void {
  const lines = [
    '### Simulator',
    '',
    stampLine(`\`npm run sim -- --seeds ${count} --from ${from} --profile ${profile} --record\``),
    '',
    '| profile | seeds | failed | seeds/s | steps | messages | slowest convergence after faults |',
    '|---|---|---|---|---|---|---|',
    ...summaries.map((s) => `| ${s.profile} | ${fmt(s.seeds)} (${from}–${from + s.seeds - 1}) | ${s.failures.length}${s.failures.length ? ` (${s.failures.join(', ')})` : ''} | ${fmt(s.seedsPerSecond)} | ${fmt(s.steps)} | ${fmt(s.messages)} | ${fmt(s.maxConvergenceMs)} ms |`),
    '',
    'A seed is one whole cluster run: a fault phase (60 s simulated for a pair, 40 s for a pool with or without HA) checked after every step, then convergence. Seeds/s is wall time on this shared machine.',
  ];
  recordRobustness(fileURLToPath(new URL('../', import.meta.url)), 'sim', lines.join('\n'));
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    console.error(USAGE);
    process.exit(2);
  },
);
