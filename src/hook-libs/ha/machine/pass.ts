import type { Millis } from '../../../core/clock.ts';
import type { HaConfig } from '../ha-config.ts';
import { thisPeer } from '../ha-config.ts';
import type { HaEvent } from './ha-input.ts';
import type { HaModel } from './ha-model.ts';
import type { HaOutput, LogLevel } from './ha-output.ts';
import type { HaState } from './ha-state.ts';
import { serviceEnabledIn } from './ha-state.ts';
import { pauseOnEntry } from './pausing.ts';

/**
 * One run of the machine in progress: the model so far, the outputs so far, and the event that
 * started the run. Local to `step`; it never escapes, so `step` stays a pure function.
 */
export interface Pass {
  model: HaModel;
  readonly cfg: HaConfig;
  readonly at: Millis;
  readonly event: HaEvent;
  readonly outputs: HaOutput[];
}

export function log(p: Pass, level: LogLevel, msgId: string, text: string, fields?: Record<string, unknown>): void {
  p.outputs.push({ type: 'log', level, msgId, text, ...(fields !== undefined ? { fields } : {}) });
}

const sorted = (names: readonly string[]): string[] => [...names].sort();

/** Kea's default scopes: own name for primary/secondary, nothing for standby/backup. */
export function defaultScopes(cfg: HaConfig): string[] {
  const me = thisPeer(cfg);
  return me.role === 'primary' || me.role === 'secondary' ? [me.name] : [];
}

/** Kea's failover scopes: every primary and secondary (a standby takes over the primary's). */
export function failoverScopes(cfg: HaConfig): string[] {
  return sorted(cfg.peers.filter((p) => p.role === 'primary' || p.role === 'secondary').map((p) => p.name));
}

function entryScopes(p: Pass, state: HaState): string[] {
  switch (state) {
    case 'load-balancing':
    case 'hot-standby':
    case 'communication-recovery':
    case 'passive-backup':
    case 'terminated':
      return defaultScopes(p.cfg);
    case 'partner-down':
      return p.event === 'maintenance-start' || thisPeer(p.cfg).autoFailover ? failoverScopes(p.cfg) : defaultScopes(p.cfg);
    case 'partner-in-maintenance':
      return failoverScopes(p.cfg);
    default:
      return [];
  }
}

/** Kea's scheduleHeartbeat: arms the timer only if it is not already running. */
export function scheduleHeartbeat(p: Pass): void {
  const hb = p.model.heartbeat;
  if (p.cfg.heartbeatDelay <= 0) return;
  if (hb.kind === 'stopped') p.model = { ...p.model, heartbeat: { kind: 'armed', dueAt: p.at + p.cfg.heartbeatDelay } };
  else if (hb.kind === 'in-flight' && !hb.rearm) p.model = { ...p.model, heartbeat: { ...hb, rearm: true } };
}

export function stopHeartbeat(p: Pass): void {
  const hb = p.model.heartbeat;
  if (hb.kind === 'in-flight') p.model = { ...p.model, heartbeat: { ...hb, rearm: false } };
  else p.model = { ...p.model, heartbeat: { kind: 'stopped' } };
}

/**
 * The only way into a state. Runs the entry actions (scopes, service switch, heartbeat stop, logs),
 * applies the pause rule, and emits exactly one `transitioned` output. A transition to the current
 * state only updates the previous state, as Kea's state model does, and enters nothing.
 */
export function enter(p: Pass, next: HaState, isStart = false): void {
  const from = p.model.state;
  if (!isStart && next === from) {
    p.model = { ...p.model, previousState: from };
    return;
  }
  const pause = pauseOnEntry(p.model.pause, next, p.cfg.pauseRules[next]);
  p.model = {
    ...p.model,
    state: next,
    previousState: isStart ? null : from,
    pause,
    scopes: entryScopes(p, next),
    serviceEnabled: serviceEnabledIn(next),
    terminatedHintLogged: false,
  };
  if (next === 'passive-backup' || next === 'terminated') stopHeartbeat(p);
  // Having taken the partner's scopes, what a witness once saw it serve no longer holds us back.
  if (next === 'partner-down' && p.model.witness !== undefined) p.model = { ...p.model, witness: { ...p.model.witness, partnerServing: [], failedSince: null } };
  p.outputs.push({
    type: 'transitioned',
    at: p.at,
    from: isStart ? null : from,
    to: next,
    partnerState: p.model.partner.partnerState,
    scopes: p.model.scopes,
    paused: pause.paused,
    sinceHeartbeatMs: p.at - p.model.partner.lastPokeAt,
  });
  if (next === 'terminated') {
    log(p, 'error', 'HA_TERMINATED', 'HA service terminated; fix the problem (e.g. clock skew) and restart both servers');
  } else if (next === 'partner-in-maintenance') {
    log(p, 'info', 'HA_MAINTENANCE_STARTED', 'the partner is in maintenance; this server serves all scopes');
  } else if (next === 'in-maintenance') {
    log(p, 'info', 'HA_MAINTENANCE_SHUTDOWN_SAFE', 'this server is in maintenance and can be safely shut down');
  }
  if (pause.paused) log(p, 'info', 'HA_STATE_MACHINE_PAUSED', `state machine paused in state ${next}`, { state: next });
}
