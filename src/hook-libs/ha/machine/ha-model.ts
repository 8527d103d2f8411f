import type { Millis } from '../../../core/clock.ts';
import type { HaState } from './ha-state.ts';
import type { PauseBook } from './pausing.ts';
import { NOT_PAUSED } from './pausing.ts';
import type { CommunicationState } from '../partner/communication-state.ts';
import { initialCommunication } from '../partner/communication-state.ts';
import type { WitnessBook } from './witness.ts';

/**
 * Kea's one-shot heartbeat timer: armed for `heartbeat-delay` after the previous heartbeat
 * completed. While a request is out, `rearm` says whether completion arms it again.
 */
export type HeartbeatTimer =
  | { readonly kind: 'stopped' }
  | { readonly kind: 'armed'; readonly dueAt: Millis }
  | {
      readonly kind: 'in-flight';
      readonly rearm: boolean;
      readonly syncCompleteNotified: boolean;
      /** When the request left (witness rules measure the partner's silence from it). */
      readonly sentAt?: Millis;
      /** Sent before a maintenance cancel: its answer describes a partner that has moved on. */
      readonly stale?: boolean;
    };

/** The whole state of one server's HA machine. Only `enter()` changes `state`. */
export interface HaModel {
  readonly state: HaState;
  /** State before the last transition (Kea's previous state; a self-transition sets it to itself). */
  readonly previousState: HaState | null;
  readonly pause: PauseBook;
  /** Served scopes (peer names), sorted. */
  readonly scopes: readonly string[];
  /** Whether the application should serve at all (Kea's DHCP service switch). */
  readonly serviceEnabled: boolean;
  readonly partner: CommunicationState;
  readonly heartbeat: HeartbeatTimer;
  /** A sync attempt started by the syncing state and not finished yet (its number), or null. */
  readonly syncInFlight: number | null;
  readonly syncAttempts: number;
  /** Set by ha-sync-complete-notify in partner-down; taken by the next heartbeat send. */
  readonly syncCompleteNotified: boolean;
  /** The "restart your partner" hint was logged for the current stay in waiting. */
  readonly terminatedHintLogged: boolean;
  /** Present only for a relationship with witnesses. */
  readonly witness?: WitnessBook;
  /** The next witness deadline (lease end, step-down, partner-down window), or null. */
  readonly witnessWakeAt?: Millis | null;
}

/** A model before its first state entry; `startModel` turns it into a running one. */
export function blankModel(at: Millis): HaModel {
  return {
    state: 'waiting',
    previousState: null,
    pause: NOT_PAUSED,
    scopes: [],
    serviceEnabled: false,
    partner: initialCommunication(at),
    heartbeat: { kind: 'stopped' },
    syncInFlight: null,
    syncAttempts: 0,
    syncCompleteNotified: false,
    terminatedHintLogged: false,
  };
}

/** When the shell should feed the next `tick` (the armed heartbeat), or null. */
export function nextWakeAt(model: HaModel): Millis | null {
  const hb = model.heartbeat.kind === 'armed' ? model.heartbeat.dueAt : null;
  const w = model.witnessWakeAt ?? null;
  if (hb === null) return w;
  return w === null ? hb : Math.min(hb, w);
}
