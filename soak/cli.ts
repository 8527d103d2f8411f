import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { recordRobustness, stampLine } from '../bench/robustness.ts';
import { Prng } from '../sim/prng.ts';
import { POOL_HA_T_SECONDS, removeScratch, startClusters, type Member } from './cluster.ts';
import { Driver, FENCE_EXIT } from './driver.ts';
import { Load } from './load.ts';
import { Observer } from './observer.ts';

/**
 * `npm run soak -- --minutes M [--seed S] [--record]`: real processes (a load-balancing HA pair
 * with a witness, and a three-host pool with HA on the xhad stack) on 127.0.0.1 under client load
 * while a driver kills, restarts and partitions them and restarts hosts that fenced; outside
 * pollers check the invariants. Bounded by --minutes plus at most two minutes to converge; every
 * process is stopped at the end, also on Ctrl-C, and the temporary directories removed.
 */
const { values } = parseArgs({ options: { minutes: { type: 'string' }, seed: { type: 'string' }, record: { type: 'boolean' } } });
const minutes = Number(values.minutes ?? 2);
if (!(minutes > 0 && minutes <= 24 * 60)) throw new Error('--minutes must be between 0 and 1440');
const seed = Number(values.seed ?? Date.now() % 1_000_000);
const started = Date.now();
const now = () => Date.now() - started;
const log = (s: string) => process.stderr.write(`[soak ${(now() / 1000).toFixed(0)}s] ${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let members: Member[] = [];
let driver: Driver | undefined;
const stopAll = async () => {
  driver?.stop();
  await Promise.all(members.map((m) => m.proc.stop().catch(() => undefined)));
  removeScratch();
};
process.on('SIGINT', () => void stopAll().finally(() => process.exit(130)));

async function main(): Promise<number> {
  log(`starting an HA pair with a witness and a three-host pool with HA, T ${POOL_HA_T_SECONDS} s (seed ${seed}, ${minutes} min)`);
  members = await startClusters();
  const prng = new Prng(seed);
  const observer = new Observer(members, now);
  const load = new Load(members);
  const d = new Driver(members, prng, now);
  driver = d;
  const end = Date.now() + minutes * 60_000;
  let running = true;
  const loops = [
    (async () => { while (running) { await observer.pollOnce(); await sleep(250); } })(),
    (async () => { while (running) { await load.haQuery(); await sleep(50); } })(),
    (async () => { while (running) { await load.createVm(); await sleep(100); } })(),
    (async () => { while (running) { await sleep(5000); await observer.checkAcknowledged(load.acked); } })(),
  ];
  // No designations: with HA enabled pool.designate_new_master is refused (HA_IS_ENABLED); the
  // master changes only by failover.
  while (Date.now() < end) {
    await sleep(prng.int(4000, 12_000));
    if (Date.now() >= end) break;
    d.act();
  }
  log('faults stop: waiting for restarts and heals, then convergence');
  await d.settle();
  const calmAt = now();
  let unconverged: string | undefined = 'not checked';
  for (let i = 0; i < 240 && unconverged !== undefined; i++) {
    unconverged = await observer.converged();
    if (unconverged !== undefined) await sleep(500);
  }
  const convergedMs = now() - calmAt;
  // A host that fenced late is restarted by the driver; wait for that too before the last checks.
  await d.settle();
  await sleep(6000);
  await observer.checkAcknowledged(load.acked);
  running = false;
  await Promise.all(loops);
  if (unconverged !== undefined) observer.violations.push({ atMs: now(), what: `no convergence within 120 s after the faults: ${unconverged}`, logs: '' });
  await stopAll();
  return report({ observer, load, driver: d, convergedMs });
}

function report(r: { observer: Observer; load: Load; driver: Driver; convergedMs: number }): number {
  const { observer, load, driver } = r;
  const durations = (cluster: 'ha' | 'pool') => observer.failovers.filter((f) => f.cluster === cluster).map((f) => f.ms).sort((a, b) => a - b);
  const summary = (cluster: 'ha' | 'pool') => {
    const ds = durations(cluster);
    const pct = (p: number) => (ds.length === 0 ? 'n/a' : `${ds[Math.min(ds.length - 1, Math.floor(p * ds.length))]} ms`);
    return `${ds.length} (${pct(0)} / ${pct(0.5)} / ${pct(1)})`;
  };
  const masterChanges = observer.transitions.filter((t) => t.includes('pool master')).length;
  const otherExits = [...driver.exits].filter(([code]) => code !== String(FENCE_EXIT)).map(([code, n]) => `${n}× ${code}`).join(', ');
  const lines = [
    '### Soak',
    '',
    stampLine(`\`npm run soak -- --minutes ${minutes} --seed ${seed}\``),
    '',
    '| minutes | kills | partitions | fenced exits (restarted) | HA pair failovers (kill → partner-down: min / median / max) | pool HA failovers (master lost → new master on every live host: min / median / max) | pool master changes | client requests (errors) | acknowledged VMs | polls | violations | converged after faults |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    `| ${minutes} | ${driver.kills} | ${driver.partitions} | ${driver.fences}${otherExits ? ` (other exits: ${otherExits})` : ''} | ${summary('ha')} | ${summary('pool')} | ${masterChanges} | ${load.requests} (${load.errors}) | ${load.acked.length} | ${observer.polls} | ${observer.violations.length} | ${r.convergedMs} ms |`,
    '',
    `The pair (load-balancing, with one witness) and the pool (three hosts, HA on the xhad stack with T = ${POOL_HA_T_SECONDS} s on a temporary statefile directory) run side by side; the driver kills (SIGKILL) or cuts off one member of each at a time, the witness included, and restarts hosts that fenced. A pool failover is timed from the kill of the master, or from the start of the partition that made it fence. Errors count refused or unanswered client requests while members were down or cut off (expected); violations are what the pollers saw twice in a row.`,
  ];
  const detail = [
    '', 'Failovers:', ...observer.failovers.map((f) => `  ${f.cluster} ${f.what}: ${f.ms} ms`),
    '', 'Driver actions:', ...driver.actions.map((a) => `  ${a}`),
    '', 'Transitions seen by the pollers:', ...observer.transitions.map((t) => `  ${t}`),
    ...observer.violations.flatMap((v) => ['', `VIOLATION at ${(v.atMs / 1000).toFixed(1)}s: ${v.what}`, v.logs]),
  ];
  console.log([...lines, ...detail].join('\n'));
  if (values.record === true) {
    const violations = observer.violations.map((v) => `- at ${(v.atMs / 1000).toFixed(1)} s: ${v.what}`);
    recordRobustness(fileURLToPath(new URL('../', import.meta.url)), 'soak', [...lines, ...(violations.length ? ['', ...violations] : [])].join('\n'));
  }
  return observer.violations.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  async (err: unknown) => {
    console.error(err instanceof Error ? err.stack : String(err));
    await stopAll();
    process.exit(2);
  },
);
