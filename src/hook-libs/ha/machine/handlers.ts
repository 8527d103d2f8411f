import { failoverPeer, thisPeer } from '../ha-config.ts';
import { hasPartnerNewUnsentUpdates } from '../partner/communication-state.ts';
import type { HaState } from './ha-state.ts';
import type { Pass } from './pass.ts';
import { log, scheduleHeartbeat, stopHeartbeat } from './pass.ts';
import {
  WAITING_TO_TERMINATED_MS,
  amPrimary,
  commInterrupted,
  commRecoveryAllowed,
  normalState,
  partnerInvalid,
  shouldPartnerDown,
  shouldTerminate,
  syncOrReady,
} from './predicates.ts';

/** A state handler: one decision pass. Returns the state to enter, or undefined to stay. */
export type Handler = (p: Pass) => HaState | undefined;

const maintCanceled = (p: Pass): boolean => p.event === 'maintenance-cancel';
const held = (p: Pass): boolean => maintCanceled(p) || p.model.pause.paused;

/** The shared skeleton's steps 3–5; returns a target, 'stay', or undefined to go on to the table. */
function commonChecks(p: Pass, onInvalid: HaState | 'stay'): HaState | 'stay' | undefined {
  if (held(p)) return 'stay';
  if (shouldTerminate(p)) return 'terminated';
  if (partnerInvalid(p)) return onInvalid;
  return undefined;
}

const settle = (r: HaState | 'stay'): HaState | undefined => (r === 'stay' ? undefined : r);

const waiting: Handler = (p) => {
  const me = thisPeer(p.cfg);
  if (p.cfg.mode !== 'passive-backup' && me.role !== 'backup') scheduleHeartbeat(p);
  if (held(p)) return undefined;
  if (me.role === 'backup') return 'backup';
  if (p.cfg.mode === 'passive-backup') return 'passive-backup';
  const c = commonChecks(p, 'stay');
  if (c !== undefined) return settle(c);
  const partner = p.model.partner;
  switch (partner.partnerState) {
    case 'communication-recovery':
    case 'hot-standby':
    case 'load-balancing':
    case 'in-maintenance':
    case 'partner-down':
    case 'partner-in-maintenance':
    case 'ready':
      return syncOrReady(p.cfg);
    case 'waiting':
      return amPrimary(p.cfg) ? syncOrReady(p.cfg) : undefined;
    case 'terminated':
      if (p.at - partner.partnerStateChangedAt >= WAITING_TO_TERMINATED_MS) return 'terminated';
      if (!p.model.terminatedHintLogged) {
        log(p, 'info', 'HA_TERMINATED_RESTART_PARTNER', 'the partner is terminated; restart it to leave this state');
        p.model = { ...p.model, terminatedHintLogged: true };
      }
      return undefined;
    case 'unavailable':
      return shouldPartnerDown(p) ? 'partner-down' : undefined;
    default:
      return undefined;
  }
};

const syncing: Handler = (p) => {
  const c = commonChecks(p, 'waiting');
  if (c !== undefined) return settle(c);
  switch (p.model.partner.partnerState) {
    case 'terminated':
      scheduleHeartbeat(p);
      return 'terminated';
    case 'unavailable':
      scheduleHeartbeat(p);
      return shouldPartnerDown(p) ? 'partner-down' : undefined;
    default: {
      if (p.model.syncInFlight !== null) return undefined;
      const from = failoverPeer(p.cfg);
      if (from === undefined) return undefined;
      // The heartbeat stays off while syncing; sync-finished re-arms it.
      stopHeartbeat(p);
      const attempt = p.model.syncAttempts + 1;
      p.model = { ...p.model, syncInFlight: attempt, syncAttempts: attempt };
      p.outputs.push({
        type: 'start-sync',
        attempt,
        from: from.name,
        timeoutMs: p.cfg.syncTimeout,
        maxPeriod: Math.max(1, Math.floor(p.cfg.syncTimeout / 1000)),
      });
      return undefined;
    }
  }
};

const ready: Handler = (p) => {
  scheduleHeartbeat(p);
  const c = commonChecks(p, 'waiting');
  if (c !== undefined) return settle(c);
  switch (p.model.partner.partnerState) {
    case 'hot-standby':
    case 'load-balancing':
    case 'communication-recovery':
      return normalState(p.cfg);
    case 'in-maintenance':
      return 'partner-in-maintenance';
    case 'partner-in-maintenance':
      return 'in-maintenance';
    case 'ready':
      if (!amPrimary(p.cfg)) return undefined;
      return normalState(p.cfg);
    case 'terminated':
      return 'terminated';
    case 'unavailable':
      return shouldPartnerDown(p) ? 'partner-down' : undefined;
    default:
      return undefined;
  }
};

/** load-balancing and hot-standby share Kea's normalStateHandler. */
const normal: Handler = (p) => {
  scheduleHeartbeat(p);
  const c = commonChecks(p, 'waiting');
  if (c !== undefined) return settle(c);
  switch (p.model.partner.partnerState) {
    case 'in-maintenance':
      return 'partner-in-maintenance';
    case 'partner-down':
      return 'waiting';
    case 'partner-in-maintenance':
      return 'in-maintenance';
    case 'terminated':
      return 'terminated';
    case 'unavailable':
      if (shouldPartnerDown(p)) return 'partner-down';
      return commRecoveryAllowed(p.cfg) ? 'communication-recovery' : undefined;
    default:
      return undefined;
  }
};

const communicationRecovery: Handler = (p) => {
  scheduleHeartbeat(p);
  const c = commonChecks(p, 'waiting');
  if (c !== undefined) return settle(c);
  const ps = p.model.partner.partnerState;
  switch (ps) {
    case 'in-maintenance':
      return 'partner-in-maintenance';
    case 'partner-down':
      return 'waiting';
    case 'partner-in-maintenance':
      return 'in-maintenance';
    case 'terminated':
      return 'terminated';
    case 'unavailable':
      return shouldPartnerDown(p) ? 'partner-down' : undefined;
    case 'waiting':
    case 'syncing':
    case 'ready':
      // Kea goes to waiting here only when its backlog of lease updates overflowed; liveset queues
      // no lease updates, so the backlog never overflows and the partner resyncs on its own.
      return undefined;
    default:
      if (commInterrupted(p)) return undefined;
      // The backlog is always empty (nothing to deliver), so recovery completes at once.
      if (ps === normalState(p.cfg) || ps === 'communication-recovery') return normalState(p.cfg);
      return 'waiting';
  }
};

const partnerDown: Handler = (p) => {
  scheduleHeartbeat(p);
  if (p.event === 'synced-partner-unavailable') p.model = { ...p.model, serviceEnabled: true };
  const c = commonChecks(p, 'waiting');
  if (c !== undefined) return settle(c);
  switch (p.model.partner.partnerState) {
    case 'communication-recovery':
    case 'partner-down':
    case 'partner-in-maintenance':
      return 'waiting';
    case 'ready':
      return hasPartnerNewUnsentUpdates(p.model.partner) ? 'waiting' : normalState(p.cfg);
    case 'terminated':
      return 'terminated';
    default:
      // Staying when the partner says load-balancing/hot-standby forces it to resync (kea#1959).
      return undefined;
  }
};

const partnerInMaintenance: Handler = (p) => {
  scheduleHeartbeat(p);
  if (p.model.pause.paused) return undefined;
  if (shouldTerminate(p)) return 'terminated';
  return p.model.partner.partnerState === 'unavailable' ? 'partner-down' : undefined;
};

const inMaintenance: Handler = (p) => {
  scheduleHeartbeat(p);
  return undefined;
};

const stays: Handler = () => undefined;

/** One handler per state. */
export const HANDLERS: Readonly<Record<HaState, Handler>> = {
  waiting,
  syncing,
  ready,
  'load-balancing': normal,
  'hot-standby': normal,
  'communication-recovery': communicationRecovery,
  'partner-down': partnerDown,
  'partner-in-maintenance': partnerInMaintenance,
  'in-maintenance': inMaintenance,
  'passive-backup': stays,
  backup: stays,
  terminated: stays,
};
