import type { Millis } from '../../../core/clock.ts';
import type { PartnerState } from '../machine/ha-state.ts';

/**
 * What this server knows about its failover partner (Kea's CommunicationState), as a pure value.
 * Monotonic times (`at`) drive timeouts; wall times only serve the clock-skew check.
 */
export interface CommunicationState {
  /** Last recorded partner state; null before any attempt (Kea's -1). */
  readonly partnerState: PartnerState | null;
  /** When the recorded partner state last changed (for the 10-minute terminated rule). */
  readonly partnerStateChangedAt: Millis;
  /** Last successful heartbeat; starts at service start, as in Kea. */
  readonly lastPokeAt: Millis;
  readonly partnerScopes: readonly string[];
  /** Partner's wall clock from its last heartbeat answer, and ours when we received it. */
  readonly partnerWallMs: number | null;
  readonly localWallMs: number | null;
  /** Previous and latest `unsent-update-count` from heartbeats. */
  readonly unsentUpdateCounts: readonly [number, number];
  /** When the high-skew warning was last logged (rate limit: once per 60 s). */
  readonly skewWarnedAt: Millis | null;
  /** True once the current interruption has been logged, so it is logged once per interruption. */
  readonly interruptionLogged: boolean;
}

/** A successful heartbeat answer, as the shell hands it in. */
export interface HeartbeatObservation {
  readonly at: Millis;
  readonly wallMs: number;
  readonly state: PartnerState;
  readonly partnerWallMs: number;
  readonly scopes: readonly string[];
  readonly unsentUpdateCount: number;
}

export function initialCommunication(at: Millis): CommunicationState {
  return {
    partnerState: null,
    partnerStateChangedAt: at,
    lastPokeAt: at,
    partnerScopes: [],
    partnerWallMs: null,
    localWallMs: null,
    unsentUpdateCounts: [0, 0],
    skewWarnedAt: null,
    interruptionLogged: false,
  };
}

/** Records a partner state; the change time moves only when the value changes. */
export function setPartnerState(c: CommunicationState, state: PartnerState, at: Millis): CommunicationState {
  if (c.partnerState === state) return c;
  return { ...c, partnerState: state, partnerStateChangedAt: at };
}

/** A successful heartbeat: record what the partner said and "poke" (last contact := now). */
export function recordHeartbeat(c: CommunicationState, hb: HeartbeatObservation): CommunicationState {
  return {
    ...setPartnerState(c, hb.state, hb.at),
    lastPokeAt: hb.at,
    partnerScopes: hb.scopes.filter((s) => s !== ''),
    partnerWallMs: hb.partnerWallMs,
    localWallMs: hb.wallMs,
    unsentUpdateCounts: [c.unsentUpdateCounts[1], hb.unsentUpdateCount],
    interruptionLogged: false,
  };
}

/** Any failed exchange with the partner: it becomes `unavailable` and skew data is forgotten. */
export function markUnavailable(c: CommunicationState, at: Millis): CommunicationState {
  return { ...setPartnerState(c, 'unavailable', at), partnerWallMs: null, localWallMs: null };
}

/** Kea's commInterrupted: silence since the last successful heartbeat exceeds max-response-delay. */
export function isCommunicationInterrupted(c: CommunicationState, at: Millis, maxResponseDelay: number): boolean {
  return at - c.lastPokeAt > maxResponseDelay;
}

/** Partner clock minus ours, whole seconds (Kea's resolution), or null when unknown. */
export function clockSkewSeconds(c: CommunicationState): number | null {
  if (c.partnerWallMs === null || c.localWallMs === null) return null;
  return Math.trunc((c.partnerWallMs - c.localWallMs) / 1000);
}

/** The partner's unsent-update counter moved and is non-zero: it has updates we never got. */
export function hasPartnerNewUnsentUpdates(c: CommunicationState): boolean {
  const [previous, latest] = c.unsentUpdateCounts;
  return latest > 0 && previous !== latest;
}

/** True once any partner state has been recorded (Kea's in-touch, which counts `unavailable`). */
export function inTouch(c: CommunicationState): boolean {
  return c.partnerState !== null;
}
