import type { Timer } from '../../src/core/clock.ts';
import type { LibraryHandle } from '../../src/core/hooks/hook-library.ts';
import { deriveTimeouts, type HaTimeouts } from '../../src/hook-libs/pool/ha/timeouts.ts';
import {
  beatDue, emptyObservations, heartbeatOf, mayWriteSlot, observeHeartbeat, observeRead, slotContent, slotWriteDue, watchdogExpired, type LoopObservations,
} from '../../src/hook-libs/pool/ha/xhad/xhad-loop.ts';
import {
  holdsMaster, initialState, slotFor, step, type Header, type Slot, type View, type XhadConfig, type XhadState,
} from '../../src/hook-libs/pool/ha/xhad/xhad-machine.ts';
import type { Fault } from '../faults.ts';
import type { Prng } from '../prng.ts';
import type { ClusterRun, Profile, SimContext } from '../profile.ts';
import { SimHost, type LibraryRunner } from '../sim-host.ts';

const FAULT_PHASE_MS = 40_000;
const GENERATION = 'g1';

/** How a host that lost the shared storage sees it: I/O errors at once, or I/O that hangs until the storage returns. */
type CutMode = 'error' | 'hang';

/**
 * The heartbeat SR: the statefile's header and one slot per host, shared by every host, with a
 * per-host cut (a host that lost its path to the storage) and a latency per I/O (slow storage). A write that was
 * issued lands even if its process dies meanwhile (it is in the kernel); a torn write is lost.
 */
class SharedStorage {
  header: Header;
  readonly slots: (Slot | undefined)[];
  private readonly cut = new Set<string>();
  private readonly hung: (() => void)[] = [];

  constructor(private readonly ctx: SimContext, private readonly prng: Prng, readonly hosts: readonly string[], enable: boolean, readonly cutMode: CutMode, private readonly maxLatencyMs: number) {
    this.header = { state: enable ? 'init' : 'active', generation: GENERATION };
    this.slots = hosts.map(() => undefined);
  }

  /** A fair coin from the storage's own stream (does an interrupted write land?). */
  coin(): boolean {
    return this.prng.chance(0.5);
  }

  isCut(host: string): boolean {
    return this.cut.has(host);
  }

  setCut(host: string, cut: boolean): void {
    if (cut) this.cut.add(host);
    else this.cut.delete(host);
    if (!cut) for (const release of this.hung.splice(0)) release();
  }

  healAll(): void {
    this.cut.clear();
    for (const release of this.hung.splice(0)) release();
  }

  /** One I/O of `host`: `apply` runs at completion unless the host is cut off then. */
  private io<T>(host: string, label: string, apply: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const fail = () => reject(new Error(`${label}: storage unreachable`));
      if (this.cut.has(host) && this.cutMode === 'hang') return void this.hung.push(fail);
      this.ctx.world.schedule(this.prng.int(1, this.maxLatencyMs), `${host} ${label}`, () => {
        if (!this.cut.has(host)) return resolve(apply());
        if (this.cutMode === 'hang') this.hung.push(fail);
        else fail();
      });
    });
  }

  /** A read returns the statefile as it was when the read was issued (the stalest a slow read may be). */
  read(host: string): Promise<{ header: Header; slots: (Slot | undefined)[] }> {
    const snapshot = { header: this.header, slots: [...this.slots] };
    return this.io(host, 'statefile read', () => snapshot);
  }

  write(host: string, slot: Slot, lands = true): Promise<void> {
    const i = this.hosts.indexOf(host);
    return this.io(host, 'statefile write', () => {
      if (lands) this.slots[i] = slot;
    });
  }
}

/** What survives a host's restart: whether it was the pool master (it contends for the lock on boot). */
interface HostMemory {
  wasMaster: boolean;
  fences: number;
  /** Set while the host is frozen (SIGSTOP): until when, and what waits for the thaw. */
  frozenUntil: number;
  readonly deferred: (() => void)[];
}

interface PoolHaVariant {
  readonly size: number;
  readonly t: HaTimeouts;
  readonly enable: boolean;
  readonly cutMode: CutMode;
  readonly ioLatencyMs: number;
  /** From the fence decision to the process exit (fence record write, fence command). */
  readonly fenceExitMs: number;
  /** A fenced host comes back this long after it exited (the reboot). */
  readonly rebootMs: number;
}

/**
 * xhad on one simulated host, as the shell (xhad-stack.ts) runs it: one tick every tickMs reads
 * the statefile, steps the pure machine, writes the own slot and sends heartbeats
 * (`host.ha_heartbeat`, answered and ignored like any peer call); a watchdog fences when the loop
 * stalls; a fence writes a last 'fenced' slot and the process exits a little later. Every delay
 * the host waits for goes through `later`, so a frozen host does nothing until it thaws.
 */
class XhadNode {
  readonly cfg: XhadConfig;
  st: XhadState;
  view: View = { hbd: [], sfd: [], sfAccess: false };
  readonly obs: LoopObservations = emptyObservations();
  private seq = 0;
  private lastContent = '';
  private lastWriteAt = -Infinity;
  private lastBeatAt = -Infinity;
  private lastBeatAccess: boolean | undefined;
  private lastTickAt: number | undefined;
  private ticking = false;
  running = true;
  armed = false;
  fenced: string | undefined;
  private gone: 'fenced' | undefined;
  private readonly beating = new Set<string>();
  private readonly timers: Timer[] = [];
  /** What the host did after it fenced (must stay empty). */
  readonly afterFence: string[] = [];
  stopped = false;

  constructor(
    private readonly handle: LibraryHandle,
    private readonly host: SimHost<XhadNode>,
    private readonly mem: HostMemory,
    private readonly sr: SharedStorage,
    private readonly v: PoolHaVariant,
    private readonly onFenceExit: (node: XhadNode) => void,
    private readonly note: (text: string) => void,
  ) {
    const hosts = [...sr.hosts];
    this.cfg = { me: host.name, hosts, generation: GENERATION, timeouts: v.t };
    const mode = sr.header.state === 'init' ? 'enable' : 'boot';
    this.st = initialState(mode, this.now(), mem.wasMaster);
    handle.registerCommand({
      name: 'host.ha_heartbeat',
      handler: async (args) => {
        const message = (args as { message?: unknown }).message;
        this.whenThawed(() => {
          if (this.running) observeHeartbeat(this.cfg, this.obs, message, this.now());
        });
        return { result: 0, text: 'ok' };
      },
    });
    this.later(0, () => void this.tick());
    this.scheduleWatchdog();
  }

  private now(): number {
    return this.handle.clock.monotonicMs();
  }

  /** Runs `fn` now, or at the thaw if the host is frozen (a stopped process runs nothing). */
  private whenThawed(fn: () => void): void {
    if (this.stopped) return;
    if (this.mem.frozenUntil > this.now()) this.mem.deferred.push(fn);
    else fn();
  }

  private later(ms: number, fn: () => void): void {
    this.timers.push(this.handle.clock.setTimer(ms, () => this.whenThawed(fn)));
    if (this.timers.length > 64) this.timers.splice(0, this.timers.length - 64);
  }

  private scheduleWatchdog(): void {
    this.later(this.v.t.tickMs, () => {
      if (!this.running) return;
      const wd = watchdogExpired(this.v.t, this.st.mode, this.lastTickAt, this.now());
      if (wd !== undefined) return this.fence(wd);
      this.scheduleWatchdog();
    });
  }

  /** This host may act as master now (the pool consults exactly this). */
  acting(): boolean {
    return !this.stopped && this.running && this.mem.frozenUntil <= this.now() && holdsMaster(this.cfg, this.st, this.now());
  }

  private async tick(): Promise<void> {
    if (!this.running) return;
    if (!this.ticking) {
      this.ticking = true;
      try {
        await this.loop();
      } finally {
        this.ticking = false;
      }
    }
    if (this.running) this.later(this.v.t.tickMs, () => void this.tick());
  }

  private async resumed<T>(p: Promise<T>): Promise<T> {
    const v = await p;
    // The continuation of an I/O runs only when the process runs.
    await new Promise<void>((resolve) => this.whenThawed(resolve));
    return v;
  }

  private async loop(): Promise<void> {
    const at0 = this.now();
    const wd = watchdogExpired(this.v.t, this.st.mode, this.lastTickAt, at0);
    if (wd !== undefined) return this.fence(wd);
    this.lastTickAt = at0;
    try {
      const r = await this.resumed(this.sr.read(this.cfg.me));
      observeRead(this.cfg, this.obs, r.header, r.slots.map((s) => (s?.generation === GENERATION ? s : undefined)), this.now());
    } catch {
      this.obs.ioFailing = true;
    }
    if (!this.running) return;
    this.evaluate();
    if (!this.running) return;
    await this.maybeWriteSlot();
    if (this.running) this.maybeBeat();
  }

  private evaluate(): void {
    const at = this.now();
    const r = step(this.cfg, this.st, this.obs, at);
    this.st = r.state;
    this.view = r.view;
    for (const d of r.decisions) {
      if (d.kind === 'joined') {
        this.armed = true;
        this.note(`${this.cfg.me} joined the liveset ${this.st.liveset.join(',')}`);
      } else if (d.kind === 'join-timeout') {
        // pool.enable_ha fails on this host; the operator reboots it and it joins again: an enable
        // join while the statefile still says init (nobody has held the lock yet), else a boot join.
        this.note(`${this.cfg.me} join timeout: ${d.reason}`);
        this.halt();
        this.onFenceExit(this);
        return;
      } else if (d.kind === 'fence') return this.fence(d.reason);
      else if (d.kind === 'invalidated') return this.halt();
      else this.note(`${this.cfg.me} ${d.kind}`);
    }
    // The pool follows the lock: the holder is master, a host that sees another holder is a slave.
    if (holdsMaster(this.cfg, this.st, at)) this.mem.wasMaster = true;
    else if (this.st.holder !== null && this.st.holder !== this.cfg.me) this.mem.wasMaster = false;
    if (this.st.contendAsMaster !== this.mem.wasMaster) this.st = { ...this.st, contendAsMaster: this.mem.wasMaster };
    // The enabling master activates the statefile once it holds the lock (ha-service.ts).
    if (this.sr.header.state === 'init' && holdsMaster(this.cfg, this.st, at)) this.sr.header = { state: 'active', generation: GENERATION };
  }

  private fence(reason: string): void {
    if (!this.armed) {
      this.halt();
      return;
    }
    this.note(`${this.cfg.me} FENCES: ${reason}`);
    this.fenced = reason;
    this.mem.fences++;
    this.halt();
    this.gone = 'fenced';
    void this.maybeWriteSlot(true).catch(() => undefined);
    this.later(this.v.fenceExitMs, () => this.onFenceExit(this));
  }

  private halt(): void {
    this.running = false;
    this.st = { ...this.st, mode: 'stopped', requesting: false };
  }

  private async maybeWriteSlot(force = false): Promise<void> {
    const at = this.now();
    const slot = slotFor(this.cfg, this.st, this.view, this.seq + 1, this.gone);
    if (!mayWriteSlot(this.obs) || !slotWriteDue(this.v.t, slot, this.lastContent, this.lastWriteAt, at, force)) return;
    if (this.fenced !== undefined && slot.state !== 'fenced') this.afterFence.push(`wrote a ${slot.state} slot`);
    let lands = true;
    if (this.host.crashOnWrite) {
      // The crash armed for "the next write" hits with this write in flight: it may or may not land.
      lands = this.sr.coin();
      this.host.crash(!lands);
    }
    try {
      await this.resumed(this.sr.write(this.cfg.me, slot, lands));
      this.seq += 1;
      this.lastContent = slotContent(slot);
      this.lastWriteAt = at;
      this.obs.ownWriteOkAt = this.now();
      this.obs.ioFailing = false;
    } catch {
      this.obs.ioFailing = true;
    }
  }

  private maybeBeat(): void {
    const at = this.now();
    if (!beatDue(this.v.t, this.view, this.lastBeatAt, this.lastBeatAccess, at)) return;
    if (this.fenced !== undefined) this.afterFence.push('sent a heartbeat');
    this.lastBeatAt = at;
    this.lastBeatAccess = this.view.sfAccess;
    const message = heartbeatOf(this.cfg, this.st, this.view, this.gone);
    for (const peer of this.cfg.hosts) {
      if (peer === this.cfg.me || this.beating.has(peer)) continue;
      this.beating.add(peer);
      void this.handle.callPeer({ name: peer, url: '' }, 'host.ha_heartbeat', { message }, this.v.t.heartbeatIntervalMs * 2)
        .catch(() => undefined)
        .finally(() => this.beating.delete(peer));
    }
  }

  kill(): void {
    this.stopped = true;
    this.running = false;
    for (const t of this.timers) t.cancel();
  }

  status(): string {
    const s = this.st;
    const state = this.fenced !== undefined ? 'fenced' : s.mode;
    return `${this.cfg.me} ${state}${this.acting() ? ' MASTER' : ''} holder ${s.holder ?? '-'} liveset ${s.liveset.join(',') || '-'}${this.view.sfAccess ? '' : ' no-statefile'}${s.statefileLost ? ' rule-2' : ''}`;
  }
}

/**
 * A pool with HA on the xhad stack: every host runs the real pure xhad machine and the loop
 * bookkeeping the shell runs (xhad-loop.ts) against a shared statefile and the simulated network,
 * under crashes, partitions, a lossy network, hosts cut off the storage and frozen hosts. Checked
 * after every step: never two hosts acting as master; a fenced host does nothing (no slot but its
 * last 'fenced' one, no heartbeat, no mastership) until its process exits and the host reboots.
 */
export const poolHaProfile: Profile = {
  name: 'pool-ha',
  build(ctx: SimContext): ClusterRun {
    const p = ctx.prng;
    const size = p.int(2, 5);
    const t = deriveTimeouts(p.pick([3000, 4000, 6000]));
    const v: PoolHaVariant = {
      size, t, enable: p.chance(0.5), cutMode: p.pick(['error', 'hang'] as const), ioLatencyMs: p.pick([2, 20, 200, 1000]),
      fenceExitMs: p.int(0, 1500), rebootMs: p.int(t.baseMs / 2, 2 * t.baseMs),
    };
    const names = Array.from({ length: size }, (_, i) => `host${i + 1}`);
    const sr = new SharedStorage(ctx, p.fork('storage'), names, v.enable, v.cutMode, v.ioLatencyMs);
    const memory = new Map<string, HostMemory>(names.map((n, i) => [n, { wasMaster: i === 0, fences: 0, frozenUntil: -Infinity, deferred: [] }]));
    const note = (text: string) => ctx.trace.note(text);
    const hosts: SimHost<XhadNode>[] = [];
    const reboot = (node: XhadNode): void => {
      const h = hosts.find((x) => x.service === node);
      if (h === undefined) return;
      note(`${h.name} exits; reboots in ${v.rebootMs} ms`);
      h.crash(false);
      ctx.world.schedule(v.rebootMs, `${h.name} reboot`, () => {
        if (!h.up) void h.start();
      });
    };
    const runnerFor = (name: string): LibraryRunner<XhadNode> => ({
      start: (handle) => {
        const h = hosts.find((x) => x.name === name) as SimHost<XhadNode>;
        const mem = memory.get(name) as HostMemory;
        mem.frozenUntil = -Infinity;
        mem.deferred.length = 0;
        return new XhadNode(handle, h, mem, sr, v, reboot, note);
      },
      kill: (node) => node.kill(),
    });
    for (const n of names) hosts.push(new SimHost<XhadNode>(n, ctx.world, ctx.net, ctx.trace, runnerFor(n), {}));
    const thaw = (h: SimHost<XhadNode>): void => {
      const mem = memory.get(h.name) as HostMemory;
      mem.frozenUntil = -Infinity;
      for (const fn of mem.deferred.splice(0)) fn();
    };
    const fencedEver = new Set<XhadNode>();
    /** How long after the faults' end the last enable join begun during them may still fail (set when they end). */
    let enableJoinOverrunMs = 0;
    return {
      variant: `${size} hosts, T ${t.baseMs} ms (tick ${t.tickMs}, lease ${t.leaseMs}), ${v.enable ? 'enable' : 'boot'} join, storage cut ${v.cutMode}, I/O up to ${v.ioLatencyMs} ms, fence exit ${v.fenceExitMs} ms, reboot ${v.rebootMs} ms`,
      hosts: hosts as SimHost<unknown>[],
      faultPhaseMs: FAULT_PHASE_MS,
      maxFreezeMs: 2 * t.baseMs,
      // Worst case after the last fault: a host still within its lease fences (T), exits and reboots;
      // its boot join waits for the statefile timeout when nobody is online (T), the survivors drop a
      // dead lock holder after T of silence, and lock request and grant take a few ticks. In a pool
      // started by enable, that chain may start only when the last enable join begun during the
      // faults runs out (sim pool-ha seed 16823): such a join lasts up to the enable join timeout
      // from its start, which the faults' end does not cut short, and its host notices the timeout
      // at its loop's next evaluation (a slot write, a tick and a statefile read after the previous
      // one). It then exits and reboots, and a host that joined beside it while its slot and
      // heartbeats were still fresh may fence on its stale slot (partition rule), exit and reboot.
      get convergenceBoundMs() {
        return enableJoinOverrunMs + t.baseMs + v.fenceExitMs + v.rebootMs + 3 * t.baseMs + 10 * t.tickMs;
      },
      status: (h) => {
        const node = (h as SimHost<XhadNode>).service;
        return h.up && node !== undefined ? node.status() : `${h.name} down`;
      },
      startWorkload: () => undefined,
      applyFault(f: Fault, h: SimHost<unknown>) {
        if (f.kind === 'storage-cut') sr.setCut(f.host, true);
        if (f.kind === 'storage-heal') sr.setCut(f.host, false);
        if (f.kind === 'freeze' && h.up) {
          const mem = memory.get(f.host) as HostMemory;
          mem.frozenUntil = ctx.world.now + f.ms;
          const host = h as SimHost<XhadNode>;
          const node = host.service;
          ctx.world.schedule(f.ms, `${f.host} thaw`, () => {
            if (host.service === node && host.up) {
              note(`${f.host} thaws`);
              thaw(host);
            }
          });
        }
      },
      faultsEnd() {
        for (const h of hosts) {
          const node = h.service;
          if (!h.up || node === undefined || !node.running || node.st.mode !== 'joining' || node.st.joinMode !== 'enable') continue;
          const noticedAt = node.st.joinStartedAt + t.enableJoinMs + 2 * v.ioLatencyMs + t.tickMs;
          enableJoinOverrunMs = Math.max(enableJoinOverrunMs, noticedAt - ctx.world.now);
        }
        sr.healAll();
        for (const h of hosts) if (h.up) thaw(h);
      },
      violations() {
        const out: string[] = [];
        const up = hosts.filter((h) => h.up && h.service !== undefined);
        const masters = up.filter((h) => (h.service as XhadNode).acting());
        if (masters.length > 1) out.push(`two hosts acting as master: ${masters.map((h) => h.name).join(', ')}`);
        for (const h of up) {
          const node = h.service as XhadNode;
          if (node.fenced !== undefined) fencedEver.add(node);
          if (fencedEver.has(node) && (node.acting() || node.running || node.afterFence.length > 0)) {
            out.push(`fenced ${h.name} acts again: ${[node.acting() ? 'acting master' : '', node.running ? 'loop running' : '', ...node.afterFence].filter(Boolean).join(', ')}`);
          }
        }
        return out;
      },
      unconverged() {
        const down = hosts.find((h) => !h.up || h.service === undefined);
        if (down) return `${down.name} is down`;
        const nodes = hosts.map((h) => h.service as XhadNode);
        const notOnline = nodes.find((n) => n.st.mode !== 'online');
        if (notOnline) return `${notOnline.cfg.me} is ${notOnline.fenced !== undefined ? 'fenced' : notOnline.st.mode}`;
        const masters = nodes.filter((n) => n.acting());
        if (masters.length !== 1) return `${masters.length} hosts acting as master`;
        const master = (masters[0] as XhadNode).cfg.me;
        for (const n of nodes) {
          if (n.st.holder !== master) return `${n.cfg.me} follows ${n.st.holder ?? 'nobody'}, not ${master}`;
          if (n.st.liveset.length !== names.length) return `${n.cfg.me}'s liveset is ${n.st.liveset.join(',')}`;
        }
        return undefined;
      },
    };
  },
};
