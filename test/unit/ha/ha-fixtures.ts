import type { HaConfig, HaMode, PeerConfig, PeerRole } from '../../../src/hook-libs/ha/ha-config.ts';
import { step, startModel } from '../../../src/hook-libs/ha/machine/ha-machine.ts';
import type { HaInput } from '../../../src/hook-libs/ha/machine/ha-input.ts';
import type { HaModel } from '../../../src/hook-libs/ha/machine/ha-model.ts';
import { blankModel, nextWakeAt } from '../../../src/hook-libs/ha/machine/ha-model.ts';
import type { HaOutput } from '../../../src/hook-libs/ha/machine/ha-output.ts';
import type { HaState, PartnerState, PauseRule } from '../../../src/hook-libs/ha/machine/ha-state.ts';
import { serviceEnabledIn } from '../../../src/hook-libs/ha/machine/ha-state.ts';
import { setPartnerState } from '../../../src/hook-libs/ha/partner/communication-state.ts';

const ROLES: Record<HaMode, PeerRole[]> = {
  'load-balancing': ['primary', 'secondary'],
  'hot-standby': ['primary', 'standby'],
  'passive-backup': ['primary', 'backup'],
};

export interface ConfigOptions {
  readonly mode?: HaMode;
  /** Which peer is "this" server: index into primary, partner, backup. */
  readonly me?: 0 | 1 | 2;
  readonly withBackup?: boolean;
  readonly pause?: Partial<Record<HaState, PauseRule>>;
  readonly overrides?: Partial<HaConfig>;
  readonly autoFailover?: boolean;
}

/** A parsed relationship built directly (the parser has its own tests). */
export function config(opts: ConfigOptions = {}): HaConfig {
  const mode = opts.mode ?? 'load-balancing';
  const roles: PeerRole[] = [...ROLES[mode]];
  if (opts.withBackup === true || (opts.me === 2 && mode !== 'passive-backup')) roles.push('backup');
  const peers: PeerConfig[] = roles.map((role, i) => ({
    name: `server${i + 1}`,
    url: `http://127.0.0.1:${8001 + i}/`,
    role,
    autoFailover: i === (opts.me ?? 0) ? (opts.autoFailover ?? true) : true,
  }));
  return {
    thisServerName: `server${(opts.me ?? 0) + 1}`,
    mode,
    peers,
    heartbeatDelay: 1000,
    maxResponseDelay: 5000,
    maxAckDelay: 10000,
    maxUnackedClients: 10,
    maxRejectedLeaseUpdates: 10,
    delayedUpdatesLimit: mode === 'load-balancing' ? 100 : 0,
    sendLeaseUpdates: true,
    syncLeases: true,
    syncTimeout: 60000,
    syncPageLimit: 10000,
    waitBackupAck: false,
    pauseRules: opts.pause ?? {},
    ...opts.overrides,
  };
}

/** A model sitting in `state` (as if entered earlier) with the partner last seen in `partner`. */
export function modelIn(state: HaState, partner: PartnerState | null = null, previous: HaState | null = 'waiting'): HaModel {
  const base = blankModel(0);
  return {
    ...base,
    state,
    previousState: previous,
    serviceEnabled: serviceEnabledIn(state),
    heartbeat: { kind: 'in-flight', rearm: true, syncCompleteNotified: false },
    partner: partner === null ? base.partner : setPartnerState(base.partner, partner, 0),
  };
}

export const WALL0 = Date.UTC(2026, 0, 1, 12, 0, 0);

/** A successful heartbeat answer at monotonic `at` with the partner's clock `skewMs` ahead. */
export function answered(at: number, state: PartnerState, extra: { skewMs?: number; unsent?: number; scopes?: string[] } = {}): HaInput {
  return {
    type: 'heartbeat-answered',
    at,
    wallMs: WALL0 + at,
    state,
    partnerWallMs: WALL0 + at + (extra.skewMs ?? 0),
    scopes: extra.scopes ?? [],
    unsentUpdateCount: extra.unsent ?? 0,
  };
}

export const failed = (at: number): HaInput => ({ type: 'heartbeat-failed', at, reason: 'connection refused' });

export function transitions(outputs: readonly HaOutput[]): string[] {
  return outputs.flatMap((o) => (o.type === 'transitioned' ? [o.to] : []));
}

export function logIds(outputs: readonly HaOutput[]): string[] {
  return outputs.flatMap((o) => (o.type === 'log' ? [o.msgId] : []));
}

/** Feeds inputs in order, returning the final model and all outputs. */
export function feed(model: HaModel, cfg: HaConfig, inputs: readonly HaInput[]): { model: HaModel; outputs: HaOutput[] } {
  const outputs: HaOutput[] = [];
  let m = model;
  for (const input of inputs) {
    const r = step(m, input, cfg);
    m = r.model;
    outputs.push(...r.outputs);
  }
  return { model: m, outputs };
}

/**
 * Two or three servers on a fake clock and a perfect fake network: heartbeats are answered at once
 * with the receiver's current state, syncs succeed at once. A server marked down answers nothing.
 */
export class Sim {
  now = 0;
  readonly models = new Map<string, HaModel>();
  readonly down = new Set<string>();
  readonly log: string[] = [];
  readonly configs = new Map<string, HaConfig>();

  constructor(cfgs: readonly HaConfig[]) {
    for (const c of cfgs) {
      this.configs.set(c.thisServerName, c);
      this.boot(c.thisServerName);
    }
  }

  boot(name: string): void {
    const cfg = this.configs.get(name)!;
    this.down.delete(name);
    const r = startModel(cfg, this.now);
    this.models.set(name, r.model);
    this.perform(name, r.outputs);
  }

  state(name: string): HaState {
    return this.models.get(name)!.state;
  }

  input(name: string, input: HaInput): void {
    if (this.down.has(name)) return;
    const r = step(this.models.get(name)!, input, this.configs.get(name)!);
    this.models.set(name, r.model);
    this.perform(name, r.outputs);
  }

  private perform(name: string, outputs: readonly HaOutput[]): void {
    for (const o of outputs) {
      if (o.type === 'transitioned') this.log.push(`${this.now} ${name} ${o.from ?? '-'} -> ${o.to}${o.paused ? ' (paused)' : ''}`);
      if (o.type === 'send-heartbeat') {
        const target = this.models.get(o.to);
        if (target === undefined || this.down.has(o.to)) this.input(name, failed(this.now));
        else this.input(name, answered(this.now, target.state));
      }
      if (o.type === 'start-sync') this.input(name, { type: 'sync-finished', at: this.now, attempt: o.attempt, ok: true });
    }
  }

  /** Advances the clock to `until`, delivering every timer that falls due on the way. */
  advance(until: number): void {
    for (;;) {
      let next: { name: string; at: number } | undefined;
      for (const [name, m] of this.models) {
        if (this.down.has(name)) continue;
        const at = nextWakeAt(m);
        if (at !== null && at <= until && (next === undefined || at < next.at)) next = { name, at };
      }
      if (next === undefined) break;
      this.now = next.at;
      this.input(next.name, { type: 'tick', at: this.now });
    }
    this.now = until;
  }
}
