import { CALM, Network } from './network.ts';
import { Prng } from './prng.ts';
import { describeFault, drawPlan, type Fault } from './faults.ts';
import type { ClusterRun, Profile } from './profile.ts';
import type { SimHost } from './sim-host.ts';
import { stamp, Trace } from './trace.ts';
import { World } from './world.ts';

export interface RunOptions {
  readonly seed: number;
  readonly profile: Profile;
  /** Record message traffic too (a readable, replayable trace). */
  readonly verbose?: boolean;
  /** Indices into the seed's fault plan to leave out (what shrinking found unnecessary). */
  readonly drop?: ReadonlySet<number>;
}

export interface Violation {
  readonly at: number;
  readonly text: string;
}

export interface RunResult {
  readonly seed: number;
  readonly profile: string;
  readonly variant: string;
  /** The seed's whole fault plan; `dropped` entries were left out of this run. */
  readonly plan: readonly Fault[];
  readonly dropped: readonly number[];
  readonly violation?: Violation;
  /** Simulated time from the end of the faults to convergence. */
  readonly convergedAfterMs?: number;
  readonly steps: number;
  readonly messages: number;
  readonly trace: readonly string[];
}

/** No run may take more steps than this (a livelock in the cluster is a finding, not a hang). */
const MAX_STEPS = 200_000;
/** Fault plans stay within what the protocols assume: delays and skew far below their timeouts. */
const MAX_DELAY_MS = 400;
const MAX_SKEW_MS = 200;

/** Lets every promise chain run until it waits for simulated time again. */
async function settle(hosts: readonly SimHost<unknown>[]): Promise<void> {
  for (let turn = 0; ; turn++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    let busy = 0;
    for (const h of hosts) {
      // A crash armed for "the next store write" hits while that write is not yet synced.
      if (h.crashOnWrite && h.activity.busy > 0) h.crash(true);
      busy += h.activity.busy;
    }
    if (busy === 0) return;
    if (turn > 10_000) throw new Error('store operations never settled');
  }
}

function applyFault(f: Fault, run: ClusterRun, net: Network, world: World): void {
  const host = (name: string) => run.hosts.find((h) => h.name === name) as SimHost<unknown>;
  switch (f.kind) {
    case 'crash': {
      const h = host(f.host);
      if (!h.up) return;
      if (!f.midWrite) return h.crash(f.tear);
      h.crashOnWrite = true;
      // No write within a while: crash anyway.
      world.schedule(2_000, `${h.name} crash fallback`, () => {
        if (h.crashOnWrite) h.crash(f.tear);
      });
      return;
    }
    case 'restart': {
      const h = host(f.host);
      if (!h.up && !h.crashOnWrite) void h.start();
      return;
    }
    case 'partition': {
      const rest = run.hosts.map((h) => h.name).filter((n) => !f.side.includes(n));
      for (const a of f.side) {
        for (const b of rest) {
          net.cut(a, b);
          net.cut(b, a);
        }
      }
      return;
    }
    case 'one-way':
      return net.cut(f.from, f.to);
    case 'heal':
      return net.healAll();
    case 'weather':
      net.quality = f.quality;
      return;
    case 'skew':
      host(f.host).skewMs = f.ms;
      return;
    case 'storage-cut':
    case 'storage-heal':
    case 'freeze':
      run.applyFault?.(f, host(f.host));
      return;
  }
}

/**
 * One seeded run: start the cluster, inject the seed's faults while the workload runs, checking
 * the safety invariants after every step; then stop all faults (heal, calm network, restart the
 * dead) and require convergence within the profile's bound. Same seed, same trace, byte for byte.
 */
class SeedRun {
  private readonly world = new World();
  private readonly trace: Trace;
  private readonly net: Network;
  private readonly run: ClusterRun;
  readonly plan: readonly Fault[];
  private readonly last = new Map<string, string>();
  private steps = 0;
  private violation: Violation | undefined;
  private convergedAfterMs: number | undefined;

  constructor(private readonly opts: RunOptions) {
    const root = new Prng(opts.seed);
    this.trace = new Trace(this.world, opts.verbose === true);
    this.net = new Network(this.world, root.fork('network'), this.trace);
    this.run = opts.profile.build({ world: this.world, net: this.net, trace: this.trace, prng: root.fork('workload') });
    const names = this.run.hosts.map((h) => h.name);
    this.plan = drawPlan(root.fork('faults'), names, {
      phaseMs: this.run.faultPhaseMs, maxDelayMs: MAX_DELAY_MS, maxSkewMs: MAX_SKEW_MS,
      ...(this.run.maxFreezeMs !== undefined ? { maxFreezeMs: this.run.maxFreezeMs } : {}),
    });
  }

  /** Records state changes and checks the safety invariants (after every step). */
  private check(): void {
    for (const h of this.run.hosts) {
      const s = this.run.status(h);
      if (this.last.get(h.name) !== s) this.trace.note(s);
      this.last.set(h.name, s);
    }
    const broken = [...this.run.violations(), ...this.run.hosts.flatMap((h) => h.internalErrors.splice(0))];
    if (broken.length > 0) this.fail(broken.join('; '));
  }

  private fail(text: string): void {
    if (this.violation !== undefined) return;
    this.violation = { at: this.world.now, text };
    this.trace.note(`VIOLATION ${text}`);
  }

  private async step(until: number): Promise<boolean> {
    if (this.steps >= MAX_STEPS || this.world.fireNext(until) === undefined) return false;
    this.steps++;
    await settle(this.run.hosts);
    this.check();
    return true;
  }

  async execute(): Promise<RunResult> {
    const { run, trace, world, net } = this;
    trace.note(`seed ${this.opts.seed} profile ${this.opts.profile.name}: ${run.variant}`);
    for (const h of run.hosts) void h.start();
    await settle(run.hosts);
    this.check();
    this.plan.forEach((f, i) => {
      if (this.opts.drop?.has(i) === true) return;
      world.schedule(f.at, 'fault', () => {
        trace.note(`FAULT #${i} ${describeFault(f)}`);
        applyFault(f, run, net, world);
      });
    });
    run.startWorkload();
    while (this.violation === undefined && (await this.step(run.faultPhaseMs)));
    world.advanceTo(run.faultPhaseMs);
    if (this.violation === undefined) await this.converge();
    // Stop everything, then let the dead processes' error paths run: whatever they leave
    // unhandled would kill a live server whose disk failed the same way.
    for (const h of run.hosts) if (h.up) h.crash(false);
    await settle(run.hosts);
    await new Promise<void>((resolve) => setImmediate(resolve));
    const late = run.hosts.flatMap((h) => h.internalErrors.splice(0));
    if (late.length > 0) this.fail(late.join('; '));
    return {
      seed: this.opts.seed,
      profile: this.opts.profile.name,
      variant: run.variant,
      plan: this.plan,
      dropped: [...(this.opts.drop ?? [])].sort((a, b) => a - b),
      ...(this.violation ? { violation: this.violation } : {}),
      ...(this.convergedAfterMs !== undefined ? { convergedAfterMs: this.convergedAfterMs } : {}),
      steps: this.steps,
      messages: net.sent,
      trace: trace.lines,
    };
  }

  /** Faults stop: heal, calm network, restart the dead; the cluster must converge within the bound. */
  private async converge(): Promise<void> {
    const { run, trace, world, net } = this;
    trace.note('FAULTS END: heal, calm network, restart every crashed host');
    net.healAll();
    net.quality = CALM;
    run.faultsEnd?.();
    for (const h of run.hosts) {
      h.crashOnWrite = false;
      if (!h.up) void h.start();
    }
    await settle(run.hosts);
    this.check();
    const deadline = run.faultPhaseMs + run.convergenceBoundMs;
    while (this.violation === undefined) {
      if (run.unconverged() === undefined) {
        this.convergedAfterMs = world.now - run.faultPhaseMs;
        trace.note(`CONVERGED after ${this.convergedAfterMs} ms`);
        return;
      }
      if (!(await this.step(deadline))) {
        world.advanceTo(deadline);
        this.fail(`no convergence within ${run.convergenceBoundMs} ms after the faults stopped: ${run.unconverged() ?? ''}`);
      }
    }
  }

  /** A rejection nobody handles kills a real server (Node's default); here it is a finding. */
  readonly unhandled = (err: unknown): void => {
    this.run.hosts[0]?.internalErrors.push(`unhandled promise rejection: ${String(err)}`);
  };
}

export async function runSeed(opts: RunOptions): Promise<RunResult> {
  const r = new SeedRun(opts);
  process.on('unhandledRejection', r.unhandled);
  try {
    return await r.execute();
  } finally {
    process.off('unhandledRejection', r.unhandled);
  }
}

export const describeViolation = (v: Violation): string => `${stamp(v.at)} ${v.text}`;
