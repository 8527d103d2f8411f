import { open, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Timer } from '../../../../core/clock.ts';
import { CommandError } from '../../../../core/errors.ts';
import { fileStoreFactory } from '../../../../store/file-store.ts';
import type { Store } from '../../../../store/store.ts';
import type { ClusterStack, ClusterStackFactory, LivesetReport, StackContext, StackListener, StackState } from '../cluster-stack.ts';
import { BLOCK, decodeHeader, decodeSlot, encodeHeader, encodeSlot } from './statefile-format.ts';
import {
  beatDue, emptyObservations, mayWriteSlot, heartbeatOf, observeHeartbeat, observeRead, slotContent, slotWriteDue, watchdogExpired, type LoopObservations,
} from './xhad-loop.ts';
import { holdsMaster, initialState, slotFor, splitSurvivor, step, type HbMessage, type Slot, type View, type XhadConfig, type XhadState } from './xhad-machine.ts';

/** The SR type whose device_config.location names the statefile directory (xapi's file SR). */
export const XHAD_SR_TYPE = 'file';

/** Thrown by statefile I/O while the testing fault cuts this host off the statefile directory. */
class MediumCut extends Error {
  constructor() {
    super('statefile directory cut off (testing fault)');
  }
}

/**
 * xhad on one host: the statefile in the heartbeat SR's directory plus network heartbeats to every
 * peer (`host.ha_heartbeat`), one tick every min(t1, t2)/2 that reads the statefile, runs the pure
 * machine (xhad-machine.ts) and writes this host's slot, and a watchdog that fences the host when
 * its own loop stalls past the heartbeat watchdog bound.
 */
export class XhadStack implements ClusterStack {
  readonly name = 'xhad';
  private readonly cfg: XhadConfig;
  private readonly hostIds: string[];
  private readonly dir: string;
  private readonly file: string;
  private fd: FileHandle | undefined;
  private st: XhadState;
  private view: View = { hbd: [], sfd: [], sfAccess: false };
  private obs: LoopObservations = emptyObservations();
  private seq = 0;
  private lastSlotWriteAt = -Infinity;
  private lastWritten = '';
  private lastBeatAt = -Infinity;
  private lastBeatAccess: boolean | undefined;
  private lastTickAt: number | undefined;
  private tickTimer: Timer | undefined;
  private watchdogTimer: Timer | undefined;
  private ticking = false;
  private running = false;
  private fencingArmed = false;
  private listener: StackListener | undefined;
  private lastReport = '';
  private joinWaiter: { resolve(): void; reject(e: unknown): void } | undefined;
  private stopWaiters: (() => void)[] = [];
  private readonly beating = new Set<string>();
  private cut = false;
  private frozen = false;
  private fenced = false;
  /** Set once this host's last slot is due: it left cleanly, or it fenced. */
  private gone: 'left' | 'fenced' | undefined;

  constructor(private readonly ctx: StackContext) {
    this.hostIds = ctx.members.map((m) => m.uuid);
    this.cfg = { me: ctx.me.uuid, hosts: this.hostIds, generation: ctx.generation, timeouts: ctx.timeouts };
    this.dir = ctx.deviceConfig['location'] ?? '';
    if (this.dir === '') throw new CommandError('HA_HOST_CANNOT_ACCESS_STATEFILE', [], "the heartbeat SR's device_config has no location (the statefile directory)");
    this.file = join(this.dir, `liveset-ha-${ctx.poolUuid}.statefile`);
    this.st = { ...initialState('boot', ctx.clock.monotonicMs(), false), mode: 'stopped' };
  }

  private now(): number {
    return this.ctx.clock.monotonicMs();
  }

  private async handle(): Promise<FileHandle> {
    if (this.cut) throw new MediumCut();
    if (this.fd) return this.fd;
    await (await open(this.file, 'a')).close();
    const fd = await open(this.file, 'r+');
    this.fd = fd;
    return fd;
  }

  private async writeBlock(index: number, bytes: Uint8Array): Promise<void> {
    const fd = await this.handle();
    await fd.write(bytes, 0, bytes.length, index * BLOCK);
    await fd.datasync();
    if (this.cut) throw new MediumCut();
  }

  async prepare(): Promise<void> {
    const ok = await stat(this.dir).then((s) => s.isDirectory(), () => false);
    if (!ok) throw new CommandError('HA_HOST_CANNOT_ACCESS_STATEFILE', [], `the statefile directory ${this.dir} does not exist on this host`);
  }

  async initialise(): Promise<void> {
    await this.writeBlock(0, encodeHeader({ state: 'init', generation: this.ctx.generation })).catch((e) => {
      throw new CommandError('HA_HOST_CANNOT_ACCESS_STATEFILE', [], `cannot write the statefile ${this.file}: ${String(e)}`);
    });
  }

  async activate(): Promise<void> {
    await this.writeBlock(0, encodeHeader({ state: 'active', generation: this.ctx.generation }));
  }

  async invalidate(): Promise<void> {
    await this.writeBlock(0, encodeHeader({ state: 'invalid', generation: this.ctx.generation }));
  }

  join(opts: { mode: 'enable' | 'boot'; contend: boolean }): Promise<void> {
    if (this.st.mode === 'online') return Promise.resolve();
    this.st = initialState(opts.mode, this.now(), opts.contend);
    this.fenced = false;
    this.gone = undefined;
    this.start();
    return new Promise((resolve, reject) => (this.joinWaiter = { resolve, reject }));
  }

  setContend(contend: boolean): void {
    if (this.st.contendAsMaster !== contend) this.st = { ...this.st, contendAsMaster: contend };
  }

  private start(): void {
    if (this.running) return;
    this.running = true;
    this.lastTickAt = undefined;
    this.scheduleTick(0);
    this.scheduleWatchdog();
  }

  private scheduleTick(delay: number): void {
    this.tickTimer = this.ctx.clock.setTimer(delay, () => {
      void this.tick().finally(() => {
        if (this.running) this.scheduleTick(this.ctx.timeouts.tickMs);
      });
    });
  }

  /** The watchdog: the host's own loop must have ticked within the heartbeat watchdog bound. */
  private scheduleWatchdog(): void {
    this.watchdogTimer = this.ctx.clock.setTimer(this.ctx.timeouts.tickMs, () => {
      if (!this.running) return;
      const stalled = watchdogExpired(this.ctx.timeouts, this.st.mode, this.lastTickAt, this.now());
      if (stalled !== undefined) {
        this.fence(stalled);
        return;
      }
      this.scheduleWatchdog();
    });
  }

  private async tick(): Promise<void> {
    if (this.ticking || !this.running || this.frozen) return;
    this.ticking = true;
    try {
      const at0 = this.now();
      const stalled = watchdogExpired(this.ctx.timeouts, this.st.mode, this.lastTickAt, at0);
      if (stalled !== undefined) {
        this.fence(stalled);
        return;
      }
      this.lastTickAt = at0;
      await this.readStatefile();
      if (!this.running) return;
      this.evaluate();
      if (!this.running) return;
      await this.maybeWriteSlot();
      this.maybeBeat();
    } finally {
      this.ticking = false;
    }
  }

  private async readStatefile(): Promise<void> {
    const n = this.hostIds.length;
    const buf = new Uint8Array((n + 1) * BLOCK);
    try {
      const fd = await this.handle();
      const { bytesRead } = await fd.read(buf, 0, buf.length, 0);
      if (this.cut) throw new MediumCut();
      const header = bytesRead >= BLOCK ? decodeHeader(buf.subarray(0, BLOCK)) : undefined;
      const slots: (Slot | undefined)[] = this.hostIds.map((_, i) =>
        bytesRead < (i + 2) * BLOCK ? undefined : decodeSlot(this.hostIds, buf.subarray((i + 1) * BLOCK, (i + 2) * BLOCK)),
      );
      observeRead(this.cfg, this.obs, header, slots, this.now());
    } catch (err) {
      this.ioFailed(err);
    }
  }

  private ioFailed(err: unknown): void {
    if (!this.obs.ioFailing) this.ctx.logger.warn({ msgId: 'POOL_HA_STATEFILE_IO_FAILED', file: this.file, err: String(err) }, `statefile I/O failed: ${String(err)}`);
    this.obs.ioFailing = true;
    if (this.fd && !(err instanceof MediumCut)) {
      void this.fd.close().catch(() => undefined);
      this.fd = undefined;
    }
  }

  private evaluate(): void {
    const at = this.now();
    const before = this.st;
    const r = step(this.cfg, this.st, this.obs, at);
    this.st = r.state;
    this.view = r.view;
    for (const d of r.decisions) {
      switch (d.kind) {
        case 'joined':
          this.ctx.logger.info({ msgId: 'POOL_HA_JOINED', liveset: this.st.liveset }, 'joined the HA liveset');
          this.joinWaiter?.resolve();
          this.joinWaiter = undefined;
          break;
        case 'join-timeout': {
          const e = this.view.sfAccess
            ? new CommandError('HA_FAILED_TO_FORM_LIVESET', [], `HA_FAILED_TO_FORM_LIVESET: ${d.reason}`)
            : new CommandError('HA_HOST_CANNOT_ACCESS_STATEFILE', [], `HA_HOST_CANNOT_ACCESS_STATEFILE: ${d.reason}`);
          this.halt();
          this.joinWaiter?.reject(e);
          this.joinWaiter = undefined;
          break;
        }
        case 'fence':
          this.fence(d.reason);
          return;
        case 'invalidated':
          this.ctx.logger.warn({ msgId: 'POOL_HA_INVALIDATED' }, 'the statefile says HA was disabled; stopping the HA daemon');
          this.halt();
          this.joinWaiter?.reject(new CommandError('HA_NOT_ENABLED', []));
          this.joinWaiter = undefined;
          this.listener?.invalidated();
          return;
        case 'statefile-lost':
          this.ctx.logger.warn({ msgId: 'HA_STATEFILE_LOST' }, 'All live servers have lost access to the HA statefile (survival rule 2: the next failure fences every host)');
          break;
        case 'statefile-regained':
          this.ctx.logger.info({ msgId: 'POOL_HA_STATEFILE_REGAINED' }, 'the HA statefile is reachable again');
          break;
      }
    }
    if (before.liveset.join() !== this.st.liveset.join()) {
      this.ctx.logger.info({ msgId: 'POOL_HA_LIVESET', liveset: this.st.liveset, was: before.liveset }, `liveset is now ${this.st.liveset.length} hosts`);
    }
    this.notify();
  }

  private notify(): void {
    const report = this.query();
    const key = JSON.stringify([report.state, report.liveset, report.master, report.iAmMaster, report.statefileLost, report.statefileAccess]);
    if (key === this.lastReport) return;
    this.lastReport = key;
    this.listener?.changed(report);
  }

  private fence(reason: string): void {
    if (!this.fencingArmed) {
      this.ctx.logger.error({ msgId: 'POOL_HA_FENCE_DISARMED', reason }, `this host should fence (${reason}) but fencing is disarmed; stopping the HA daemon instead`);
      this.halt();
      this.notify();
      return;
    }
    this.fenced = true;
    this.halt();
    // The last slot says this host is gone, so the survivors drop it without waiting for its
    // slot to go stale (it has stopped acting; the pool exits next).
    this.gone = 'fenced';
    void this.maybeWriteSlot(true).catch(() => undefined);
    this.listener?.fence({ reason });
  }

  /** Stops the loops; the stack reports 'stopped' (or 'fenced'). */
  private halt(): void {
    this.running = false;
    this.tickTimer?.cancel();
    this.watchdogTimer?.cancel();
    this.st = { ...this.st, mode: 'stopped', requesting: false };
    for (const w of this.stopWaiters.splice(0)) w();
  }

  private async maybeWriteSlot(force = false): Promise<void> {
    const at = this.now();
    const me = this.hostIds.indexOf(this.cfg.me);
    const slot = slotFor(this.cfg, this.st, this.view, this.seq + 1, this.gone);
    if (!mayWriteSlot(this.obs) || !slotWriteDue(this.ctx.timeouts, slot, this.lastWritten, this.lastSlotWriteAt, at, force)) return;
    try {
      await this.writeBlock(me + 1, encodeSlot(this.hostIds, slot));
      this.seq += 1;
      this.lastWritten = slotContent(slot);
      this.lastSlotWriteAt = at;
      this.obs.ownWriteOkAt = this.now();
      this.obs.ioFailing = false;
    } catch (err) {
      this.ioFailed(err);
    }
  }

  private message(): HbMessage {
    return heartbeatOf(this.cfg, this.st, this.view, this.gone);
  }

  /** Heartbeats every t1, and at once when statefile access changes (survival rule 2 needs to know). */
  private maybeBeat(force = false): void {
    const at = this.now();
    if (!beatDue(this.ctx.timeouts, this.view, this.lastBeatAt, this.lastBeatAccess, at, force)) return;
    this.lastBeatAt = at;
    this.lastBeatAccess = this.view.sfAccess;
    const msg = this.message();
    for (const m of this.ctx.members) {
      if (m.uuid === this.cfg.me || this.beating.has(m.uuid)) continue;
      this.beating.add(m.uuid);
      void this.ctx.callPeer(this.ctx.peerOf(m), 'host.ha_heartbeat', { message: msg }, this.ctx.timeouts.heartbeatIntervalMs * 2)
        .catch(() => undefined)
        .finally(() => this.beating.delete(m.uuid));
    }
  }

  receive(message: unknown): void {
    if (!this.running || this.frozen) return;
    observeHeartbeat(this.cfg, this.obs, message, this.now());
  }

  async leave(): Promise<void> {
    if (!this.running) return;
    this.gone = 'left';
    this.st = { ...this.st, requesting: false };
    await this.maybeWriteSlot(true);
    this.maybeBeat(true);
    this.halt();
  }

  query(): LivesetReport {
    const at = this.now();
    const state: StackState = this.fenced ? 'fenced' : this.st.mode;
    const name = (u: string) => this.ctx.members.find((m) => m.uuid === u)?.name ?? u;
    const split = this.st.mode === 'online' ? splitSurvivor(this.st.liveset) : undefined;
    return {
      state,
      liveset: this.st.mode === 'online' ? this.st.liveset : [],
      network: this.view.hbd,
      statefile: this.view.sfd,
      statefileAccess: this.view.sfAccess,
      master: this.st.mode === 'online' ? this.st.holder : null,
      iAmMaster: this.running && !this.frozen && holdsMaster(this.cfg, this.st, at),
      fencingArmed: this.fencingArmed,
      failoverDecisions: this.st.failoverAllowed,
      statefileLost: this.st.statefileLost,
      ...(split ? { splitSurvivor: { host: name(split.survivor), reason: split.reason.replace(split.survivor, `${name(split.survivor)}, ${split.survivor}`) } } : {}),
      detail: {
        statefile: this.file,
        slot_seq: this.seq,
        confirmed_ms_ago: Math.round(at - this.st.confirmedAt),
        requesting: this.st.requesting,
        grant: this.st.grant,
        ...(this.frozen ? { frozen: true } : {}),
        ...(this.cut ? { statefile_cut: true } : {}),
      },
    };
  }

  watch(listener: StackListener): void {
    this.listener = listener;
  }

  armFencing(): void {
    this.fencingArmed = true;
  }

  disarmFencing(): void {
    this.fencingArmed = false;
  }

  disableFailoverDecisions(): void {
    this.st = { ...this.st, failoverAllowed: false, requesting: false };
  }

  waitForShutdown(timeoutMs: number): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = this.ctx.clock.setTimer(timeoutMs, () => {
        this.stopWaiters = this.stopWaiters.filter((w) => w !== done);
        reject(new CommandError(this.view.sfAccess ? 'HA_FAILED_TO_FORM_LIVESET' : 'HA_LOST_STATEFILE', [], this.view.sfAccess ? 'the HA daemon did not stop' : undefined));
      });
      const done = () => {
        timer.cancel();
        resolve();
      };
      this.stopWaiters.push(done);
    });
  }

  async stop(): Promise<void> {
    this.halt();
    this.joinWaiter?.reject(new CommandError('HA_NOT_ENABLED', [], 'the HA daemon was stopped'));
    this.joinWaiter = undefined;
    const fd = this.fd;
    this.fd = undefined;
    await fd?.close().catch(() => undefined);
  }

  async openRedoLog(): Promise<Store> {
    if (this.cut) throw new MediumCut();
    const store = await fileStoreFactory(this.dir).open(`liveset-ha-redo-${this.ctx.poolUuid}`);
    const guard = <T>(fn: () => Promise<T>): Promise<T> => (this.cut ? Promise.reject(new MediumCut()) : fn());
    return {
      get snapshot() {
        return store.snapshot;
      },
      get records() {
        return store.records;
      },
      append: (r) => guard(() => store.append(r)),
      writeSnapshot: (s) => guard(() => store.writeSnapshot(s)),
      close: () => store.close(),
    };
  }

  setFault(fault: 'medium-cut' | 'medium-heal' | 'freeze' | 'thaw'): void {
    this.ctx.logger.warn({ msgId: 'POOL_HA_FAULT', fault }, `testing fault: ${fault}`);
    if (fault === 'medium-cut') this.cut = true;
    if (fault === 'medium-heal') this.cut = false;
    if (fault === 'freeze') this.frozen = true;
    if (fault === 'thaw') this.frozen = false;
  }
}

export const xhadFactory: ClusterStackFactory = {
  name: 'xhad',
  statefileSrTypes: [XHAD_SR_TYPE],
  create: (ctx) => new XhadStack(ctx),
};
