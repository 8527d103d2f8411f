import type { Millis } from '../../../core/clock.ts';
import type { HeartbeatObservation } from '../partner/communication-state.ts';
import type { FailureEvidence, WitnessAnswer } from './witness.ts';

/**
 * Everything that can happen to the machine. Times come in: `at` is monotonic ms, `wallMs` the
 * local wall clock where clock skew matters.
 */
export type HaInput =
  /** A timer fired: send the heartbeat if it is due. */
  | { readonly type: 'tick'; readonly at: Millis }
  | ({ readonly type: 'heartbeat-answered' } & HeartbeatObservation)
  | { readonly type: 'heartbeat-failed'; readonly at: Millis; readonly reason: string }
  | {
      readonly type: 'sync-finished';
      readonly at: Millis;
      readonly attempt: number;
      readonly ok: boolean;
      readonly reason?: string;
      /** The failure was a communication failure with the partner. */
      readonly partnerUnavailable?: boolean;
    }
  | { readonly type: 'continue'; readonly at: Millis }
  | { readonly type: 'reset'; readonly at: Millis }
  | { readonly type: 'scopes-set'; readonly at: Millis; readonly scopes: readonly string[] }
  /** The partner told us (ha-maintenance-notify) to go in-maintenance or to leave it. */
  | { readonly type: 'maintenance-notify'; readonly at: Millis; readonly cancel: boolean; readonly partnerState?: string }
  /** ha-maintenance-start after notifying the partner: it accepted, or it could not be reached / answered 1. */
  | { readonly type: 'maintenance-start'; readonly at: Millis; readonly outcome: 'accepted' | 'partner-unavailable' }
  /** ha-maintenance-cancel after the partner accepted; `partnerState` is the state it reported. */
  | { readonly type: 'maintenance-cancel'; readonly at: Millis; readonly partnerState?: string }
  | { readonly type: 'sync-complete-notified'; readonly at: Millis }
  /** A witness's answer in probe round `round` (relationships with witnesses). */
  | { readonly type: 'witness-answered'; readonly at: Millis; readonly round: number; readonly witness: string; readonly answer: WitnessAnswer }
  /** What the ha_partner_failure_check callouts said in probe round `round`. */
  | { readonly type: 'failure-evidence'; readonly at: Millis; readonly round: number; readonly evidence: FailureEvidence }
  /** The partner's heartbeat reached us (it may be serving for max-response-delay after it). */
  | { readonly type: 'partner-heard'; readonly at: Millis };

/** Kea's state-model events; the one that started a run stays "last event" through its hops. */
export type HaEvent =
  | 'start'
  | 'nop'
  | 'heartbeat-complete'
  | 'sync-succeeded'
  | 'maintenance-notify'
  | 'maintenance-start'
  | 'maintenance-cancel'
  | 'synced-partner-unavailable';
