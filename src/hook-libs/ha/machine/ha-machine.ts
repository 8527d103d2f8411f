import type { Millis } from '../../../core/clock.ts';
import type { HaConfig } from '../ha-config.ts';
import { failoverPeer } from '../ha-config.ts';
import {
  isCommunicationInterrupted,
  markUnavailable,
  recordHeartbeat,
  setPartnerState,
} from '../partner/communication-state.ts';
import { HANDLERS } from './handlers.ts';
import type { HaEvent, HaInput } from './ha-input.ts';
import type { HaModel } from './ha-model.ts';
import { blankModel } from './ha-model.ts';
import type { HaOutput } from './ha-output.ts';
import type { HaState } from './ha-state.ts';
import { isPartnerState } from './ha-state.ts';
import type { Pass } from './pass.ts';
import { enter, log, scheduleHeartbeat } from './pass.ts';
import { unpause } from './pausing.ts';
import { initialWitnessBook } from './witness.ts';
import { heartbeatAcknowledged, partnerDownDue, probeOnFailure, witnessEpilogue, witnessInput } from './witness-steps.ts';

/** The result of one step: the new model and what the shell must do, in order. */
export interface Step {
  readonly model: HaModel;
  readonly outputs: readonly HaOutput[];
}

/** Guards against a handler cycle; Kea's longest real chain is a handful of hops. */
const MAX_HOPS = 16;

/**
 * Kea's runModel. `chain` keeps running the new state's handler after each transition (events other
 * than NOP); `once` runs exactly one pass (ha-reset and the maintenance commands post NOP).
 */
function run(p: Pass, mode: 'chain' | 'once'): void {
  for (let hop = 0; hop < MAX_HOPS; hop++) {
    const current = p.model.state;
    const target = HANDLERS[current](p);
    if (target === undefined || target === current) return;
    enter(p, target);
    if (mode === 'once') return;
  }
  log(p, 'error', 'HA_STATE_MACHINE_LOOP', `state machine stopped after ${MAX_HOPS} transitions in one run`);
}

function pass(model: HaModel, cfg: HaConfig, at: Millis, event: HaEvent): Pass {
  return { model, cfg, at, event, outputs: [] };
}

const done = (p: Pass): Step => ({ model: p.model, outputs: p.outputs });

/** Service start: enter waiting (its pause rule applies) and run the machine. */
export function startModel(cfg: HaConfig, at: Millis): Step {
  const p = pass(blankModel(at), cfg, at, 'start');
  if (cfg.witness !== undefined) p.model = { ...p.model, witness: initialWitnessBook(at) };
  enter(p, 'waiting', true);
  run(p, 'chain');
  if (cfg.witness !== undefined) witnessEpilogue(p, cfg.witness);
  return done(p);
}

/** Completion of a heartbeat: re-arm the timer (unless it was stopped meanwhile). */
function heartbeatCompleted(p: Pass): boolean {
  const hb = p.model.heartbeat;
  if (hb.kind !== 'in-flight') return false;
  p.model = { ...p.model, heartbeat: { kind: 'stopped' } };
  if (hb.rearm) scheduleHeartbeat(p);
  return hb.syncCompleteNotified;
}

/**
 * The pure HA state machine: one input in, the next model and the outputs out. With witnesses,
 * every step ends by applying their rules (serving gate, deadlines); without, it is Kea's machine.
 */
export function step(model: HaModel, input: HaInput, cfg: HaConfig): Step {
  const r = keaStep(model, input, cfg);
  const w = cfg.witness;
  if (w === undefined) return r;
  const p: Pass = { model: r.model, cfg, at: input.at, event: 'nop', outputs: [...r.outputs] };
  witnessEpilogue(p, w);
  return done(p);
}

/** The witnesses may have made partner-down due: run the state handler (Kea runs it only on heartbeats). */
function runIfPartnerDownDue(p: Pass): void {
  if (partnerDownDue(p.model, p.cfg, p.at) && isCommunicationInterrupted(p.model.partner, p.at, p.cfg.maxResponseDelay)) run(p, 'chain');
}

function keaStep(model: HaModel, input: HaInput, cfg: HaConfig): Step {
  const at = input.at;
  const w = cfg.witness;
  switch (input.type) {
    case 'tick': {
      const p = pass(model, cfg, at, 'nop');
      const hb = model.heartbeat;
      const peer = failoverPeer(cfg);
      if (hb.kind === 'armed' && at >= hb.dueAt && peer !== undefined) {
        p.model = {
          ...model,
          heartbeat: { kind: 'in-flight', rearm: true, syncCompleteNotified: model.syncCompleteNotified, ...(w !== undefined ? { sentAt: at } : {}) },
          syncCompleteNotified: false,
        };
        p.outputs.push({ type: 'send-heartbeat', to: peer.name });
      }
      if (w !== undefined) {
        witnessInput(p, w, input);
        runIfPartnerDownDue(p);
      }
      return done(p);
    }
    case 'witness-answered':
    case 'failure-evidence':
    case 'partner-heard': {
      const p = pass(model, cfg, at, 'nop');
      if (w === undefined) return done(p);
      witnessInput(p, w, input);
      runIfPartnerDownDue(p);
      return done(p);
    }
    case 'heartbeat-answered': {
      const p = pass(model, cfg, at, 'heartbeat-complete');
      if (model.heartbeat.kind === 'in-flight' && model.heartbeat.stale === true) {
        heartbeatCompleted(p);
        return done(p);
      }
      const { type: _type, ...observation } = input;
      p.model = { ...p.model, partner: recordHeartbeat(p.model.partner, observation) };
      if (w !== undefined) heartbeatAcknowledged(p, model.heartbeat.kind === 'in-flight' ? (model.heartbeat.sentAt ?? at) : at);
      heartbeatCompleted(p);
      run(p, 'chain');
      return done(p);
    }
    case 'heartbeat-failed': {
      const notified = model.heartbeat.kind === 'in-flight' && model.heartbeat.syncCompleteNotified;
      const p = pass(model, cfg, at, notified ? 'synced-partner-unavailable' : 'heartbeat-complete');
      let partner = markUnavailable(model.partner, at);
      if (isCommunicationInterrupted(partner, at, cfg.maxResponseDelay) && !partner.interruptionLogged) {
        log(p, 'warn', 'HA_COMMUNICATION_INTERRUPTED', `communication with the partner is interrupted: ${input.reason}`, { reason: input.reason });
        partner = { ...partner, interruptionLogged: true };
      }
      p.model = { ...p.model, partner };
      heartbeatCompleted(p);
      if (w !== undefined) probeOnFailure(p, w);
      run(p, 'chain');
      return done(p);
    }
    case 'sync-finished': {
      const p = pass(model, cfg, at, 'sync-succeeded');
      if (model.syncInFlight !== input.attempt) return done(p);
      p.model = { ...model, syncInFlight: null };
      if (model.state !== 'syncing') return done(p);
      scheduleHeartbeat(p);
      if (!input.ok) {
        log(p, 'error', 'HA_SYNC_FAILED', `synchronisation with the partner failed: ${input.reason ?? 'unknown reason'}`);
        if (input.partnerUnavailable === true) p.model = { ...p.model, partner: markUnavailable(p.model.partner, at) };
        return done(p);
      }
      log(p, 'info', 'HA_SYNC_SUCCESSFUL', 'synchronisation with the partner complete');
      enter(p, 'ready');
      run(p, 'chain');
      return done(p);
    }
    case 'continue': {
      const p = pass(model, cfg, at, 'nop');
      if (!model.pause.paused) return done(p);
      p.model = { ...model, pause: unpause(model.pause) };
      log(p, 'info', 'HA_STATE_MACHINE_CONTINUED', 'state machine is un-paused');
      return done(p);
    }
    case 'reset': {
      const p = pass(model, cfg, at, 'nop');
      if (model.state === 'waiting') return done(p);
      enter(p, 'waiting');
      run(p, 'once');
      return done(p);
    }
    case 'scopes-set':
      return { model: { ...model, scopes: [...new Set(input.scopes)].sort() }, outputs: [] };
    case 'sync-complete-notified': {
      if (model.state !== 'partner-down') return { model, outputs: [] };
      return { model: { ...model, syncCompleteNotified: true, serviceEnabled: false }, outputs: [] };
    }
    case 'maintenance-notify':
      return maintenanceNotify(model, input, cfg);
    case 'maintenance-start': {
      const p = pass(model, cfg, at, 'maintenance-start');
      if (!maintenanceStartAllowed(model.state)) return done(p);
      if (input.outcome === 'accepted') {
        enter(p, 'partner-in-maintenance');
      } else {
        p.model = { ...p.model, partner: markUnavailable(p.model.partner, at) };
        enter(p, 'partner-down');
      }
      run(p, 'once');
      return done(p);
    }
    case 'maintenance-cancel': {
      const p = pass(model, cfg, at, 'maintenance-cancel');
      if (model.state !== 'partner-in-maintenance') return done(p);
      let partner = markUnavailable(model.partner, at);
      if (isPartnerState(input.partnerState)) partner = setPartnerState(partner, input.partnerState, at);
      p.model = { ...model, partner, heartbeat: staleIfInFlight(model) };
      enter(p, returnFromMaintenance(model, 'partner-in-maintenance'));
      run(p, 'once');
      return done(p);
    }
  }
}

/**
 * A heartbeat in flight across a maintenance cancel would report the partner's maintenance state
 * after both servers left it and pull them straight back in; its answer is ignored (a liveset
 * guard against a race Kea leaves open).
 */
function staleIfInFlight(model: HaModel): HaModel['heartbeat'] {
  const hb = model.heartbeat;
  return hb.kind === 'in-flight' ? { ...hb, stale: true } : hb;
}

/** After maintenance, go back where we were, or to waiting if that was a maintenance state too. */
function returnFromMaintenance(model: HaModel, maintenanceState: HaState): HaState {
  const prev = model.previousState;
  return prev === null || prev === maintenanceState ? 'waiting' : prev;
}

function maintenanceNotify(model: HaModel, input: Extract<HaInput, { type: 'maintenance-notify' }>, cfg: HaConfig): Step {
  if (!input.cancel) {
    const p = pass(model, cfg, input.at, 'maintenance-notify');
    if (!inMaintenanceAllowed(model.state)) return done(p);
    enter(p, 'in-maintenance');
    run(p, 'chain');
    return done(p);
  }
  const p = pass(model, cfg, input.at, 'maintenance-cancel');
  if (model.state !== 'in-maintenance') return done(p);
  const ps = isPartnerState(input.partnerState) ? input.partnerState : 'unavailable';
  p.model = { ...model, partner: setPartnerState(model.partner, ps, input.at), heartbeat: staleIfInFlight(model) };
  enter(p, returnFromMaintenance(model, 'in-maintenance'));
  run(p, 'once');
  return done(p);
}

/** ha-maintenance-notify (cancel=false) is refused in these states with result 1001. */
export function inMaintenanceAllowed(state: HaState): boolean {
  return state !== 'backup' && state !== 'partner-in-maintenance' && state !== 'terminated';
}

/** ha-maintenance-start is refused in these states. */
export function maintenanceStartAllowed(state: HaState): boolean {
  return state !== 'backup' && state !== 'in-maintenance' && state !== 'partner-in-maintenance' && state !== 'terminated';
}
