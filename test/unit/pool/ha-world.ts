import { deriveTimeouts, type HaTimeouts } from '../../../src/hook-libs/pool/ha/timeouts.ts';
import {
  holdsMaster, initialState, slotFor, step, type Decision, type HbMessage, type Observations, type Slot, type XhadConfig, type XhadState,
} from '../../../src/hook-libs/pool/ha/xhad/xhad-machine.ts';

/**
 * A deterministic world of xhad machines under a fake clock: a shared statefile (slots in a map),
 * a network matrix, per-host statefile access, kill and freeze. Each tick every running host reads
 * the statefile, steps its pure machine, writes its slot and sends heartbeats exactly as the shell
 * does, so the decisions can be checked without a process, socket or file.
 */
export interface SimHost {
  readonly id: string;
  cfg: XhadConfig;
  st: XhadState;
  obs: { hb: Record<string, { at: number; msg: HbMessage }>; slots: Record<string, { slot: Slot; changedAt: number }>; ownWriteOkAt?: number; ownReadOkAt?: number; firstReadOkAt?: number; ioFailing: boolean; header?: { state: 'init' | 'active' | 'invalid'; generation: string } };
  alive: boolean;
  fenced?: string;
  seq: number;
  lastWrite: number;
  lastBeat: number;
  decisions: Decision[];
}

export class World {
  now = 0;
  readonly t: HaTimeouts;
  readonly hosts: SimHost[];
  readonly statefile = new Map<string, Slot>();
  private readonly cut = new Set<string>();
  readonly noStatefile = new Set<string>();
  /** Fencing hosts die before writing their last slot (the harder case for the survivors). */
  crashOnFence = false;

  constructor(ids: string[], baseMs = 4000) {
    this.t = deriveTimeouts(baseMs);
    const sorted = [...ids].sort();
    this.hosts = sorted.map((id) => ({
      id, alive: true, seq: 0, lastWrite: -Infinity, lastBeat: -Infinity, decisions: [],
      cfg: { me: id, hosts: sorted, generation: 'g1', timeouts: this.t },
      st: initialState('enable', 0, id === ids[0]),
      obs: { hb: {}, slots: {}, ioFailing: false, header: { state: 'init', generation: 'g1' } },
    }));
  }

  host(id: string): SimHost {
    return this.hosts.find((h) => h.id === id) as SimHost;
  }

  private key(a: string, b: string): string {
    return a < b ? `${a}|${b}` : `${b}|${a}`;
  }

  cutLink(a: string, b: string): void {
    this.cut.add(this.key(a, b));
  }

  heal(): void {
    this.cut.clear();
    this.noStatefile.clear();
  }

  isolate(a: string): void {
    for (const h of this.hosts) if (h.id !== a) this.cutLink(a, h.id);
  }

  canTalk(a: string, b: string): boolean {
    return !this.cut.has(this.key(a, b));
  }

  kill(id: string): void {
    this.host(id).alive = false;
  }

  /** Restarts a dead (or fenced) host: a boot join with empty observations. */
  restart(id: string): void {
    const h = this.host(id);
    h.alive = true;
    delete h.fenced;
    h.st = initialState('boot', this.now, false);
    h.obs = { hb: {}, slots: {}, ioFailing: false, header: { state: 'active', generation: 'g1' } };
    h.lastWrite = -Infinity;
    h.lastBeat = -Infinity;
  }

  running(): SimHost[] {
    return this.hosts.filter((h) => h.alive && h.fenced === undefined);
  }

  /** Hosts that may act as master now. */
  masters(): string[] {
    return this.running().filter((h) => holdsMaster(h.cfg, h.st, this.now)).map((h) => h.id);
  }

  tick(order: number[] = []): void {
    this.now += this.t.tickMs;
    const hosts = [...this.running()];
    // A permutation of the processing order (from the property test), else UUID order.
    hosts.sort((a, b) => (order[this.hosts.indexOf(a)] ?? 0) - (order[this.hosts.indexOf(b)] ?? 0));
    for (const h of hosts) this.stepHost(h);
  }

  run(ms: number): void {
    const end = this.now + ms;
    while (this.now < end) this.tick();
  }

  private stepHost(h: SimHost): void {
    if (!h.alive || h.fenced !== undefined) return;
    const at = this.now;
    const access = !this.noStatefile.has(h.id);
    if (access) {
      h.obs.ownReadOkAt = at;
      h.obs.firstReadOkAt ??= at;
      h.obs.ioFailing = false;
      for (const [id, slot] of this.statefile) {
        if (id === h.id) continue;
        const prev = h.obs.slots[id];
        if (!prev) h.obs.slots[id] = { slot, changedAt: -Infinity };
        else if (prev.slot.seq !== slot.seq) h.obs.slots[id] = { slot, changedAt: at };
      }
    } else {
      h.obs.ioFailing = true;
    }
    const r = step(h.cfg, h.st, h.obs as Observations, at);
    h.st = r.state;
    h.decisions.push(...r.decisions);
    const fence = r.decisions.find((d) => d.kind === 'fence');
    if (fence && fence.kind === 'fence') {
      h.fenced = fence.reason;
      // As the shell does: a last slot saying the host fenced (when the statefile is reachable).
      if (access && !this.crashOnFence) {
        h.seq += 1;
        this.statefile.set(h.id, slotFor(h.cfg, h.st, r.view, h.seq, 'fenced'));
      }
      return;
    }
    if (access && (at - h.lastWrite >= this.t.statefileIntervalMs || r.decisions.length > 0 || true)) {
      h.seq += 1;
      this.statefile.set(h.id, slotFor(h.cfg, h.st, r.view, h.seq));
      h.lastWrite = at;
      h.obs.ownWriteOkAt = at;
    }
    if (at - h.lastBeat >= this.t.heartbeatIntervalMs) {
      h.lastBeat = at;
      const msg: HbMessage = { from: h.id, generation: 'g1', state: h.st.mode === 'online' ? 'online' : 'joining', sfAccess: r.view.sfAccess, liveset: h.st.liveset };
      for (const p of this.running()) if (p.id !== h.id && this.canTalk(h.id, p.id)) p.obs.hb[h.id] = { at, msg };
    }
  }
}
