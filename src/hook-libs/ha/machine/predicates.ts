import type { HaConfig } from '../ha-config.ts';
import { thisPeer } from '../ha-config.ts';
import { clockSkewSeconds, isCommunicationInterrupted } from '../partner/communication-state.ts';
import type { HaState } from './ha-state.ts';
import type { Pass } from './pass.ts';
import { log } from './pass.ts';
import { witnessesAllowPartnerDown } from './witness.ts';

/** Skew above this many seconds is logged (at most once a minute). */
export const SKEW_WARN_SECONDS = 30;
/** Skew above this many seconds terminates HA. */
export const SKEW_TERMINATE_SECONDS = 60;
const SKEW_WARN_INTERVAL_MS = 60_000;
/** A partner seen in terminated this long makes a waiting server terminate too (Kea ≥ 2.5.8). */
export const WAITING_TO_TERMINATED_MS = 10 * 60_000;

/** Kea's getNormalState. */
export function normalState(cfg: HaConfig): HaState {
  if (thisPeer(cfg).role === 'backup') return 'backup';
  if (cfg.mode === 'load-balancing') return 'load-balancing';
  if (cfg.mode === 'hot-standby') return 'hot-standby';
  return 'passive-backup';
}

export const amPrimary = (cfg: HaConfig): boolean => thisPeer(cfg).role === 'primary';

export const syncOrReady = (cfg: HaConfig): HaState => (cfg.syncLeases ? 'syncing' : 'ready');

export const commRecoveryAllowed = (cfg: HaConfig): boolean => cfg.delayedUpdatesLimit > 0;

export function commInterrupted(p: Pass): boolean {
  return isCommunicationInterrupted(p.model.partner, p.at, p.cfg.maxResponseDelay);
}

/**
 * Kea's failure detection counts clients that the partner left unanswered. liveset serves no DHCP,
 * so no such clients are ever seen: a partner whose heartbeats stopped longer than
 * max-response-delay is treated as failed, which is what Kea does with max-unacked-clients = 0.
 */
function failureDetected(): boolean {
  return true;
}

/**
 * Kea's shouldPartnerDown. With witnesses, their verdict and timing decide instead of Kea's
 * client analysis (see witness.ts and docs/ha.md, Witnesses).
 */
export function shouldPartnerDown(p: Pass): boolean {
  if (!commInterrupted(p)) return false;
  const w = p.cfg.witness;
  if (w !== undefined) return p.model.witness !== undefined && witnessesAllowPartnerDown(p.model.witness, w, p.cfg.maxResponseDelay, p.at);
  if (p.model.serviceEnabled && (p.cfg.mode === 'load-balancing' || thisPeer(p.cfg).role === 'standby')) {
    return failureDetected();
  }
  return true;
}

/**
 * Kea's shouldTerminate, clock-skew part (rejected lease updates cannot happen without leases):
 * |skew| > 60 s terminates; |skew| > 30 s is logged, at most once every 60 s.
 */
export function shouldTerminate(p: Pass): boolean {
  const skew = clockSkewSeconds(p.model.partner);
  if (skew === null) return false;
  const magnitude = Math.abs(skew);
  if (magnitude > SKEW_TERMINATE_SECONDS) {
    log(p, 'error', 'HA_HIGH_CLOCK_SKEW_CAUSED_TERMINATION', `clock skew of ${skew} s with the partner exceeds ${SKEW_TERMINATE_SECONDS} s; terminating HA`, { skew });
    return true;
  }
  if (magnitude > SKEW_WARN_SECONDS) {
    const warnedAt = p.model.partner.skewWarnedAt;
    if (warnedAt === null || p.at - warnedAt >= SKEW_WARN_INTERVAL_MS) {
      log(p, 'warn', 'HA_HIGH_CLOCK_SKEW', `clock skew of ${skew} s with the partner exceeds ${SKEW_WARN_SECONDS} s; synchronise the clocks`, { skew });
      p.model = { ...p.model, partner: { ...p.model.partner, skewWarnedAt: p.at } };
    }
  }
  return false;
}

/** Kea's isPartnerStateInvalid: the partner reports a state that does not fit our mode. */
export function partnerInvalid(p: Pass): boolean {
  const ps = p.model.partner.partnerState;
  const mode = p.cfg.mode;
  if ((ps === 'communication-recovery' || ps === 'load-balancing') && mode !== 'load-balancing') return true;
  return ps === 'hot-standby' && mode !== 'hot-standby';
}
