import type { Millis } from '../../../core/clock.ts';
import type { HaConfig, WitnessSettings } from '../ha-config.ts';
import { failoverPeer } from '../ha-config.ts';
import type { HaInput } from './ha-input.ts';
import type { HaModel } from './ha-model.ts';
import type { Pass } from './pass.ts';
import { log } from './pass.ts';
import type { WitnessBook } from './witness.ts';
import {
  beginRound,
  completeRound,
  expireFailedRun,
  fenceMs,
  initialWitnessBook,
  recordAnswer,
  recordEvidence,
  roundFinished,
  servingGate,
  witnessDeadlines,
  witnessesAllowPartnerDown,
} from './witness.ts';

/** How the witness rules hook into each step of the machine; none of this runs without witnesses. */

export function bookOf(model: HaModel, at: Millis): WitnessBook {
  return model.witness ?? initialWitnessBook(at);
}

const setBook = (p: Pass, book: WitnessBook): void => {
  p.model = { ...p.model, witness: book };
};

/** A heartbeat failed: ask the witnesses (one round at a time). */
export function probeOnFailure(p: Pass, w: WitnessSettings): void {
  const partner = failoverPeer(p.cfg);
  if (partner === undefined) return;
  const started = beginRound(bookOf(p.model, p.at), p.at);
  if (started === null) return;
  setBook(p, started.book);
  p.outputs.push({ type: 'probe-witnesses', round: started.id, partner: partner.name, timeoutMs: w.timeoutMs, fenceMs: fenceMs(w, p.cfg.maxResponseDelay) });
}

/** A heartbeat the partner answered: it was alive when that heartbeat left. */
export function heartbeatAcknowledged(p: Pass, sentAt: Millis): void {
  const book = bookOf(p.model, p.at);
  setBook(p, { ...book, lastAckedSendAt: Math.max(book.lastAckedSendAt, sentAt), failedSince: null, partnerServing: [] });
}

/** Entering partner-down: we now serve the partner's scopes; what a witness saw it serve is history. */
export function tookOver(p: Pass): void {
  if (p.model.witness !== undefined) setBook(p, { ...p.model.witness, partnerServing: [], failedSince: null });
}

/** Records witness answers, evidence and heartbeats from the partner; closes a finished round. */
export function witnessInput(p: Pass, w: WitnessSettings, input: HaInput): void {
  let book = bookOf(p.model, p.at);
  if (input.type === 'witness-answered') book = recordAnswer(book, w, input.round, input.witness, input.answer, input.at);
  else if (input.type === 'failure-evidence') book = recordEvidence(book, w, input.round, input.evidence, input.at);
  else if (input.type === 'partner-heard') book = { ...book, lastHeardAt: Math.max(book.lastHeardAt, input.at) };
  if (roundFinished(book, w, p.at)) {
    // A verdict from before the partner was last heard belongs to an earlier failure: the first
    // round of a new one is news, even when it says the same (subscribers see every episode).
    const heardAt = Math.max(book.lastHeardAt, p.model.partner.lastPokeAt);
    const before = book.last !== null && book.last.settledAt >= heardAt ? book.last.verdict : undefined;
    book = completeRound(book, w, p.cfg.maxResponseDelay);
    const last = book.last;
    if (last !== null) {
      const changed = last.verdict !== before;
      p.outputs.push({ type: 'witness-verdict', at: p.at, round: last.id, verdict: last.verdict, reason: last.reason, answered: last.answered, needed: last.needed, reachedBy: last.reachedBy, changed });
      if (changed) {
        log(p, last.verdict === 'partner-alive' ? 'info' : 'warn', 'HA_WITNESS_VERDICT', `witness round ${last.id}: ${last.verdict}: ${last.reason}`, {
          verdict: last.verdict,
          answered: last.answered,
          needed: last.needed,
          reachedBy: last.reachedBy,
        });
      }
    }
  }
  setBook(p, book);
}

/** True when the witnesses now allow partner-down (a tick then runs the state handler). */
export function partnerDownDue(model: HaModel, cfg: HaConfig, at: Millis): boolean {
  const w = cfg.witness;
  return w !== undefined && model.witness !== undefined && witnessesAllowPartnerDown(model.witness, w, cfg.maxResponseDelay, at);
}

/**
 * After every step: expire a missed partner-down window, report a change of the serving gate once,
 * and compute the next witness deadline for the shell's timer.
 */
export function witnessEpilogue(p: Pass, w: WitnessSettings): void {
  let book = expireFailedRun(bookOf(p.model, p.at), w, p.cfg.maxResponseDelay, p.at);
  const gate = servingGate(book, p.cfg, p.model.scopes, p.at);
  if (gate.serving !== book.serving) {
    p.outputs.push({ type: 'serving-changed', at: p.at, serving: gate.serving, reason: gate.reason, state: p.model.state });
    if (gate.serving) log(p, 'info', 'HA_WITNESS_SERVING_RESUMED', `serving again in ${p.model.state}: ${gate.reason}`, { state: p.model.state });
    else log(p, 'warn', 'HA_WITNESS_STEPPED_DOWN', `${gate.reason}; serving nothing in ${p.model.state}`, { state: p.model.state });
  }
  book = { ...book, serving: gate.serving, checkedAt: p.at };
  const times = witnessDeadlines(book, w, p.cfg.maxResponseDelay);
  p.model = { ...p.model, witness: book, witnessWakeAt: times.length > 0 ? Math.min(...times) : null };
}
