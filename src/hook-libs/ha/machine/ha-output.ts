import type { Millis } from '../../../core/clock.ts';
import type { HaState, PartnerState } from './ha-state.ts';
import type { WitnessVerdict } from './witness.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** What the machine asks the shell to do. Outputs are data; the shell performs them in order. */
export type HaOutput =
  | {
      readonly type: 'transitioned';
      readonly at: Millis;
      /** null for the first entry at service start. */
      readonly from: HaState | null;
      readonly to: HaState;
      readonly partnerState: PartnerState | null;
      readonly scopes: readonly string[];
      readonly paused: boolean;
      /** How long since the last successful heartbeat (since start if none yet). */
      readonly sinceHeartbeatMs: number;
    }
  | { readonly type: 'send-heartbeat'; readonly to: string }
  | { readonly type: 'start-sync'; readonly attempt: number; readonly from: string; readonly timeoutMs: number; readonly maxPeriod: number }
  /** Ask every witness whether it reaches `partner`, and run ha_partner_failure_check; answers come back as inputs. */
  | { readonly type: 'probe-witnesses'; readonly round: number; readonly partner: string; readonly timeoutMs: number; readonly fenceMs: number }
  | {
      readonly type: 'witness-verdict';
      readonly at: Millis;
      readonly round: number;
      readonly verdict: WitnessVerdict;
      readonly reason: string;
      readonly answered: number;
      readonly needed: number;
      readonly reachedBy: readonly string[];
      /** The verdict differs from the previous round's. */
      readonly changed: boolean;
    }
  /** The witness rules stopped (or let resume) the service this state would give. */
  | { readonly type: 'serving-changed'; readonly at: Millis; readonly serving: boolean; readonly reason: string; readonly state: HaState }
  | { readonly type: 'log'; readonly level: LogLevel; readonly msgId: string; readonly text: string; readonly fields?: Record<string, unknown> };
