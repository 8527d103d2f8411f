import { keaCommand, waitFor } from '../test/helpers/liveset.ts';
import { startHaPool, type HaPool } from '../test/integration/pool-ha-helpers.ts';
import { MONITOR_INTERVAL_MS } from '../src/hook-libs/pool/ha/ha-service.ts';
import { agreedMaster, status } from './pool-ha-failover.ts';
import { fmt, ratio, type Row, type SectionResult } from './lib/report.ts';
import { summarize } from './lib/stats.ts';

export interface PoolHaRestartOptions {
  /**
   * Base timeouts T in seconds; at each, `kills` kills of a slave holding the VMs and `masterKills`
   * kills of the master holding them.
   */
  readonly timings: readonly { readonly tSeconds: number; readonly kills: number; readonly masterKills: number }[];
  /** VMs placed on the host that is killed, each cycle: protected (`restart`) and `best-effort`. */
  readonly protectedVms: number;
  readonly bestEffortVms: number;
}

const MiB = 1024 * 1024;
/** How often the VM records are read from the master while waiting for the restarts. */
const POLL_MS = 20;

interface Samples {
  /** kill → every protected VM Running on a survivor. */
  protectedMs: number[];
  /** kill → every best-effort VM Running on a survivor. */
  bestEffortMs: number[];
  /** kill → a survivor is master and both survivors follow it (master kills only). */
  electedMs: number[];
}

const kea = (url: string, command: string, args?: unknown) => keaCommand(url, command, args, { errorDetail: true, timeoutMs: 5000 });

async function ok(url: string, command: string, args?: unknown): Promise<unknown> {
  const a = await kea(url, command, args);
  if (a.result !== 0) throw new Error(`${command}: ${a.error ?? ''} ${JSON.stringify(a.params ?? [])} ${a.text ?? ''}`);
  return a.arguments;
}

type VmRecords = Record<string, { power_state: string; resident_on: string }>;

/**
 * One kill: `victim` (the master or a slave) gets fresh protected and best-effort VMs, is killed -9 at a
 * random point of the heartbeat cycle, and the VM records are read from the (possibly new) master every
 * POLL_MS until every VM runs on a survivor. The victim is restarted afterwards.
 */
async function killOnce(pool: HaPool, o: PoolHaRestartOptions, victimIsMaster: boolean, turn: number, old: string[], tSeconds: number, into: Samples): Promise<string[]> {
  const master = (await waitFor(() => agreedMaster(pool, pool.names), { timeoutMs: 90_000, intervalMs: 50, what: 'one master every host follows' })) as string;
  const m = pool.url(master);
  await waitFor(async () => (await status(pool, master))?.['ha']?.['liveset']?.length === 3, { timeoutMs: 90_000, what: 'all three hosts in the liveset' });
  await waitFor(async () => {
    const metrics = (await kea(m, 'host_metrics.get_all_records')).arguments as Record<string, { live: boolean }> | undefined;
    return metrics !== undefined && Object.values(metrics).length === 3 && Object.values(metrics).every((x) => x.live);
  }, { timeoutMs: 90_000, what: 'every host live on the master' });
  const slaves = pool.names.filter((n) => n !== master);
  const victim = victimIsMaster ? master : slaves[turn % slaves.length]!;
  const survivors = pool.names.filter((n) => n !== victim);
  const refs = await pool.refs(master);
  const survivorRefs = new Set(survivors.map((n) => refs[n]));

  // The previous kill's VMs go away (they run on the survivors now); fresh VMs each kill, so that no
  // VM is inside the master's 120 s re-attempt window and every restart follows the plan.
  for (const vm of old) {
    await kea(m, 'VM.shutdown', { vm });
    await ok(m, 'VM.destroy', { self: vm });
  }
  const protectedVms: string[] = [];
  const bestEffortVms: string[] = [];
  for (let i = 0; i < o.protectedVms + o.bestEffortVms; i++) {
    const priority = i < o.protectedVms ? 'restart' : 'best-effort';
    const vm = (await ok(m, 'VM.create', { args: { name_label: `bench-${turn}-${i}`, memory_static_max: 256 * MiB, ha_restart_priority: priority } })) as string;
    (priority === 'restart' ? protectedVms : bestEffortVms).push(vm);
    // The victim may have rejoined the liveset a moment before the master marks it enabled again.
    await waitFor(async () => (await kea(m, 'VM.start_on', { vm, host: refs[victim], start_paused: false })).result === 0, { timeoutMs: 60_000, intervalMs: 200, what: `VM.start_on ${victim}` });
  }

  // Kill at a random point of the heartbeat cycle, as a real crash would.
  await new Promise((r) => setTimeout(r, Math.random() * 1000));
  const killedAt = performance.now();
  await pool.hosts.get(victim)!.kill();
  const deadline = Date.now() + tSeconds * 4000 + 120_000;
  let at: string | undefined = victimIsMaster ? undefined : master;
  let protectedAt: number | undefined;
  let bestEffortAt: number | undefined;
  let electedAt: number | undefined;
  const onSurvivor = (recs: VmRecords, vms: readonly string[]) => vms.every((v) => recs[v]?.power_state === 'Running' && survivorRefs.has(recs[v]!.resident_on));
  while (protectedAt === undefined || bestEffortAt === undefined) {
    if (Date.now() > deadline) throw new Error(`kill -9 of ${victimIsMaster ? 'the master' : 'a slave'} ${victim}: VMs not running on survivors within ${tSeconds * 4 + 120} s`);
    if (at === undefined) {
      at = await agreedMaster(pool, survivors);
      if (at !== undefined) electedAt ??= performance.now();
    }
    if (at !== undefined) {
      const a = await kea(pool.url(at), 'VM.get_all_records').catch(() => undefined);
      const now = performance.now();
      if (a?.result === 0) {
        const recs = a.arguments as VmRecords;
        if (protectedAt === undefined && onSurvivor(recs, protectedVms)) protectedAt = now;
        if (bestEffortAt === undefined && onSurvivor(recs, bestEffortVms)) bestEffortAt = now;
      } else if (victimIsMaster) {
        at = undefined;
      }
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  into.protectedMs.push(protectedAt - killedAt);
  into.bestEffortMs.push(bestEffortAt - killedAt);
  if (electedAt !== undefined) into.electedMs.push(electedAt - killedAt);
  await pool.hosts.get(victim)!.restart();
  return [...protectedVms, ...bestEffortVms];
}

async function measure(o: PoolHaRestartOptions, tSeconds: number, kills: number, masterKills: number): Promise<{ slave: Samples; master: Samples }> {
  const pool = await startHaPool(3);
  const slave: Samples = { protectedMs: [], bestEffortMs: [], electedMs: [] };
  const master: Samples = { protectedMs: [], bestEffortMs: [], electedMs: [] };
  try {
    const enable = await keaCommand(pool.url('host1'), 'pool.enable_ha', { heartbeat_srs: [pool.srRef], configuration: { timeout: String(tSeconds) } }, { timeoutMs: (tSeconds + 70) * 1000 });
    if (enable.result !== 0) throw new Error(`pool.enable_ha: ${enable.text}`);
    // Tolerate one host failure, as a protected pool would: admission control is on during re-placement.
    const poolRef = ((await ok(pool.url('host1'), 'pool.get_all')) as string[])[0]!;
    await ok(pool.url('host1'), 'pool.set_ha_host_failures_to_tolerate', { self: poolRef, value: 1 });
    let vms: string[] = [];
    for (let i = 0; i < kills; i++) vms = await killOnce(pool, o, false, i, vms, tSeconds, slave);
    for (let i = 0; i < masterKills; i++) vms = await killOnce(pool, o, true, kills + i, vms, tSeconds, master);
  } finally {
    await pool.stopAll();
  }
  return { slave, master };
}

/**
 * Pool HA restarts: kill -9 of a host holding protected and best-effort VMs → those VMs Running on the
 * survivors, beside T (the detection timeout) and the issue's bound, T + the master's monitor period.
 */
export async function poolHaRestart(o: PoolHaRestartOptions): Promise<SectionResult> {
  const rows: Row[] = [];
  const monitorMs = MONITOR_INTERVAL_MS;
  for (const { tSeconds, kills, masterKills } of o.timings) {
    const { slave, master } = await measure(o, tSeconds, kills, masterKills);
    const tMs = tSeconds * 1000;
    const boundMs = tMs + monitorMs;
    const row = (what: string, xs: number[], toBound: boolean): Row => {
      const s = summarize(xs);
      return {
        group: 'pool HA restarts',
        what: `3 hosts, T = ${tSeconds} s: ${what}, N=${s.n} (min / median / max)`,
        liveset: `${fmt(s.min)} / ${fmt(s.median)} / ${fmt(s.max)} ms`,
        baseline: toBound ? `T = ${fmt(tMs)} ms (bound T + monitor period = ${fmt(boundMs)} ms)` : `T = ${fmt(tMs)} ms`,
        ratio: `${ratio(s.median, tMs, 'median/T')}; ${ratio(s.max, tMs, 'max/T')}${toBound ? `; ${ratio(s.max, boundMs, 'max/bound')}` : ''}`,
      };
    };
    const vmsOn = (who: string) => `kill -9 ${who} holding ${o.protectedVms} protected + ${o.bestEffortVms} best-effort VMs`;
    if (kills > 0) {
      rows.push(row(`${vmsOn('a slave')} → every protected VM Running on a survivor`, slave.protectedMs, true));
      rows.push(row(`${vmsOn('a slave')} → every best-effort VM Running on a survivor`, slave.bestEffortMs, true));
    }
    if (masterKills > 0) {
      rows.push(row(`${vmsOn('the master')} → new master followed by both survivors`, master.electedMs, false));
      rows.push(row(`${vmsOn('the master')} → every protected VM Running on a survivor`, master.protectedMs, true));
      rows.push(row(`${vmsOn('the master')} → every best-effort VM Running on a survivor`, master.bestEffortMs, true));
    }
  }
  return {
    rows,
    notes: [
      'Pool HA restarts: three real hosts with the xhad stack on a temporary statefile directory, HA enabled with timeout T and ' +
        '`ha_host_failures_to_tolerate` = 1. Before each kill the host to be killed (a slave, alternating between the two, or the master) gets ' +
        `${o.protectedVms} fresh VMs with \`ha_restart_priority\` = \`restart\` and ${o.bestEffortVms} with \`best-effort\` (256 MiB each, \`VM.start_on\` it; ` +
        "the previous kill's VMs are shut down and destroyed, so none is inside the master's 120 s re-attempt window). It is killed with SIGKILL at a " +
        `random point of the heartbeat cycle; from then on the master's \`VM.get_all_records\` is read every ${POLL_MS} ms (after a master kill, ` +
        "first the survivor both survivors follow as master), and the time is taken at the first read where every VM of the class is `Running` with " +
        '`resident_on` a survivor. The killed host is restarted and has rejoined the liveset before the next kill. ' +
        `The baseline is T, the silence after which a host may be treated as dead; the issue's bound is T + the master's monitor period (${fmt(monitorMs)} ms), ` +
        'since the monitor restarts at once on a liveset change and otherwise every period. A figure can be below T because T runs from the ' +
        "killed host's last heartbeat, not from the kill. After a master kill the new master first waits for the surviving hosts to rejoin " +
        '(spec §4.2) before it restarts anything; the row "new master followed by both survivors" shows how much of the time is the election.',
    ],
  };
}
