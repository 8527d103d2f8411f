// One HA server with witnesses on a fake clock: heartbeats to the partner and witness probes are
// answered by scripted behaviour, after scripted delays, through one time-ordered event queue.
import type { HaConfig, WitnessSettings } from '../../../src/hook-libs/ha/ha-config.ts';
import { startModel, step } from '../../../src/hook-libs/ha/machine/ha-machine.ts';
import type { HaInput } from '../../../src/hook-libs/ha/machine/ha-input.ts';
import type { HaModel } from '../../../src/hook-libs/ha/machine/ha-model.ts';
import { nextWakeAt } from '../../../src/hook-libs/ha/machine/ha-model.ts';
import type { HaOutput } from '../../../src/hook-libs/ha/machine/ha-output.ts';
import type { HaState, PartnerState } from '../../../src/hook-libs/ha/machine/ha-state.ts';
import type { WitnessAnswer } from '../../../src/hook-libs/ha/machine/witness.ts';
import { servingNow } from '../../../src/hook-libs/ha/machine/witness.ts';
import { answered, config, failed } from './ha-fixtures.ts';
import type { ConfigOptions } from './ha-fixtures.ts';

export const D = 500;
export const H = 100;
export const T = 200;
export const M = 50;

export function witnessConfig(opts: ConfigOptions & { witnesses?: number; timeoutMs?: number; marginMs?: number } = {}): HaConfig {
  const n = opts.witnesses ?? 1;
  const witness: WitnessSettings = {
    members: Array.from({ length: n }, (_, i) => ({ name: `w${i + 1}`, url: `http://127.0.0.1:${9001 + i}/` })),
    timeoutMs: opts.timeoutMs ?? T,
    marginMs: opts.marginMs ?? M,
  };
  return config({ ...opts, overrides: { heartbeatDelay: H, maxResponseDelay: D, witness, ...opts.overrides } });
}

/** How the partner answers a heartbeat at `at`: its state, or null for no answer. */
export type PartnerScript = (at: number) => { state: PartnerState; scopes: string[] } | null;
/** How witness `name` answers in a round sent at `at`: an answer and its delay, or null for silence. */
export type WitnessScript = (name: string, at: number) => { answer: WitnessAnswer; afterMs: number } | null;

export const reaches = (state: PartnerState, serving: string[]): WitnessAnswer => ({ answered: true, reachedPartner: true, partnerState: state, partnerServing: serving, detail: 'reached' });
export const unreachable: WitnessAnswer = { answered: true, reachedPartner: false, partnerState: null, partnerServing: [], detail: 'connection refused' };

export class WitnessWorld {
  now = 0;
  model: HaModel;
  readonly outputs: { at: number; o: HaOutput }[] = [];
  private queue: { at: number; input: HaInput }[] = [];
  /** Extra ms a timer fires late (a loaded machine). */
  timerLateMs = 0;
  evidence: (at: number) => { partnerAlive: boolean; reason: string } = () => ({ partnerAlive: false, reason: 'no application evidence' });

  constructor(
    readonly cfg: HaConfig,
    public partner: PartnerScript,
    public witnesses: WitnessScript,
  ) {
    const r = startModel(cfg, 0);
    this.model = r.model;
    this.perform(r.outputs);
  }

  private perform(outputs: readonly HaOutput[]): void {
    for (const o of outputs) {
      this.outputs.push({ at: this.now, o });
      if (o.type === 'send-heartbeat') {
        const a = this.partner(this.now);
        this.queue.push({ at: this.now, input: a === null ? failed(this.now) : answered(this.now, a.state, { scopes: a.scopes }) });
      } else if (o.type === 'start-sync') {
        this.queue.push({ at: this.now, input: { type: 'sync-finished', at: this.now, attempt: o.attempt, ok: true } });
      } else if (o.type === 'probe-witnesses') {
        for (const w of this.cfg.witness?.members ?? []) {
          const r = this.witnesses(w.name, this.now);
          if (r !== null) this.queue.push({ at: this.now + r.afterMs, input: { type: 'witness-answered', at: this.now + r.afterMs, round: o.round, witness: w.name, answer: r.answer } });
        }
        this.queue.push({ at: this.now, input: { type: 'failure-evidence', at: this.now, round: o.round, evidence: this.evidence(this.now) } });
      }
    }
  }

  input(input: HaInput): void {
    const r = step(this.model, input, this.cfg);
    this.model = r.model;
    this.perform(r.outputs);
  }

  /** Runs queued answers and timers up to `until`. */
  advance(until: number): void {
    for (;;) {
      this.queue.sort((a, b) => a.at - b.at);
      const wake = nextWakeAt(this.model);
      const timerAt = wake === null ? null : Math.max(wake, this.now) + this.timerLateMs;
      const next = this.queue[0];
      if (next !== undefined && next.at <= until && (timerAt === null || next.at <= timerAt)) {
        this.queue.shift();
        this.now = Math.max(this.now, next.at);
        this.input({ ...next.input, at: this.now } as HaInput);
      } else if (timerAt !== null && timerAt <= until) {
        this.now = timerAt;
        this.input({ type: 'tick', at: this.now });
      } else break;
    }
    this.now = until;
  }

  get state(): HaState {
    return this.model.state;
  }

  /** When the server first entered `state`, or undefined. */
  enteredAt(state: HaState): number | undefined {
    return this.outputs.find((x) => x.o.type === 'transitioned' && x.o.to === state)?.at;
  }

  served(at = this.now): readonly string[] {
    return servingNow(this.model, this.cfg, at).scopes;
  }

  of<K extends HaOutput['type']>(type: K): { at: number; o: Extract<HaOutput, { type: K }> }[] {
    return this.outputs.filter((x): x is { at: number; o: Extract<HaOutput, { type: K }> } => x.o.type === type);
  }
}
