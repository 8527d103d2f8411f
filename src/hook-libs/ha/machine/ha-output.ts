import type { Millis } from '../../../core/clock.ts';
import type { HaState, PartnerState } from './ha-state.ts';

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
  | { readonly type: 'log'; readonly level: LogLevel; readonly msgId: string; readonly text: string; readonly fields?: Record<string, unknown> };
