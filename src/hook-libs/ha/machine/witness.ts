import type { Millis } from '../../../core/clock.ts';
import type { HaConfig, WitnessSettings } from '../ha-config.ts';
import type { HaModel } from './ha-model.ts';
import type { PartnerState } from './ha-state.ts';

/**
 * Witnesses, as pure data and rules (docs/ha.md, "Witnesses" has the safety argument these
 * functions implement). Whatever asks — another liveset server today, an etcd cluster later — the
 * machine only sees answers: did the witness answer us within `witness-timeout`, did it reach our
 * partner, and what was the partner serving.
 */

/** One witness's answer in one round, as the shell hands it in. */
export type WitnessAnswer =
  | {
      readonly answered: true;
      readonly reachedPartner: boolean;
      /** The partner's state as the witness saw it (null when it did not reach it). */
      readonly partnerState: PartnerState | null;
      /** Scopes the partner was serving when the witness reached it. */
      readonly partnerServing: readonly string[];
      readonly detail: string;
    }
  | { readonly answered: false; readonly reason: string };

/** Application evidence from the `ha_partner_failure_check` callouts. */
export interface FailureEvidence {
  readonly partnerAlive: boolean;
  readonly reason: string;
}

export type WitnessVerdict = 'partner-alive' | 'partner-failed' | 'isolated';

/** What a completed round concluded. */
export interface RoundOutcome {
  readonly id: number;
  readonly sentAt: Millis;
  readonly verdict: WitnessVerdict;
  readonly answered: number;
  readonly needed: number;
  readonly reachedBy: readonly string[];
  readonly reason: string;
  /** When the last counted answer arrived (sentAt + witness-timeout when none did). */
  readonly settledAt: Millis;
}

export interface WitnessRound {
  readonly id: number;
  readonly sentAt: Millis;
  readonly answers: Readonly<Record<string, WitnessAnswer>>;
  /** Arrival of the latest answer counted as answered. */
  readonly lastAnswerAt?: Millis;
  readonly evidence?: FailureEvidence;
}

/** The last answer a witness gave, for status. */
export interface WitnessSeen {
  readonly round: number;
  readonly at: Millis;
  readonly answer: WitnessAnswer;
}

export interface WitnessBook {
  readonly roundsStarted: number;
  readonly inFlight: WitnessRound | null;
  readonly last: RoundOutcome | null;
  /** settledAt of the first round of the current unbroken run of partner-failed rounds. */
  readonly failedSince: Millis | null;
  /** This server may serve while its partner is silent until then (a majority answered a round sent at leaseUntil - D). */
  readonly leaseUntil: Millis | null;
  /** Scopes a witness last saw the partner serving; kept until a witness sees otherwise or we take over. */
  readonly partnerServing: readonly string[];
  readonly seen: Readonly<Record<string, WitnessSeen>>;
  /** Send time of the last heartbeat the partner answered: its answer proves it was alive then, not later. */
  readonly lastAckedSendAt: Millis;
  /** Last heartbeat received from the partner (it may be serving until this + max-response-delay). */
  readonly lastHeardAt: Millis;
  /** Whether we were serving at the last step, to report changes once. */
  readonly serving: boolean;
  /** Time of the last step: deadlines at or before it have been dealt with. */
  readonly checkedAt: Millis;
}

export function initialWitnessBook(at: Millis): WitnessBook {
  return {
    roundsStarted: 0,
    inFlight: null,
    last: null,
    failedSince: null,
    leaseUntil: null,
    partnerServing: [],
    seen: {},
    lastAckedSendAt: at,
    lastHeardAt: at,
    serving: true,
    checkedAt: at,
  };
}

export const majorityOf = (n: number): number => Math.floor(n / 2) + 1;

/**
 * How long a witness that could not reach our partner refuses that partner's own probes: past the
 * end of our partner-down window plus one probe of the partner's (docs/ha.md has the sum).
 */
export function fenceMs(w: WitnessSettings, maxResponseDelay: number): number {
  return maxResponseDelay + 2 * w.timeoutMs + 2 * w.marginMs;
}

/**
 * The window in which a run of partner-failed rounds allows partner-down. `failedSince` is when the
 * first of them settled (its last answer came back, at most witness-timeout after it was sent):
 * from D + M after that (the isolated partner has stepped down by then) until one margin later
 * (the witnesses still refuse the partner). A late timer misses it and starts again.
 */
export function partnerDownWindow(w: WitnessSettings, maxResponseDelay: number, failedSince: Millis): { opens: Millis; closes: Millis } {
  const opens = failedSince + maxResponseDelay + w.marginMs;
  return { opens, closes: opens + w.marginMs };
}

/** Starts a round unless one is out; returns the new book and the round id, or null. */
export function beginRound(book: WitnessBook, at: Millis): { book: WitnessBook; id: number } | null {
  if (book.inFlight !== null) return null;
  const id = book.roundsStarted + 1;
  return { book: { ...book, roundsStarted: id, inFlight: { id, sentAt: at, answers: {} } }, id };
}

/** Records one witness's answer; one arriving after witness-timeout counts as no answer. */
export function recordAnswer(book: WitnessBook, w: WitnessSettings, round: number, witness: string, answer: WitnessAnswer, at: Millis): WitnessBook {
  const r = book.inFlight;
  if (r === null || r.id !== round || !w.members.some((m) => m.name === witness) || witness in r.answers) return book;
  const counted: WitnessAnswer = at - r.sentAt > w.timeoutMs ? { answered: false, reason: `answered after witness-timeout (${at - r.sentAt} ms)` } : answer;
  const lastAnswerAt = counted.answered ? Math.max(at, r.lastAnswerAt ?? at) : r.lastAnswerAt;
  return {
    ...book,
    inFlight: { ...r, answers: { ...r.answers, [witness]: counted }, ...(lastAnswerAt !== undefined ? { lastAnswerAt } : {}) },
    seen: { ...book.seen, [witness]: { round, at, answer: counted } },
  };
}

export function recordEvidence(book: WitnessBook, w: WitnessSettings, round: number, evidence: FailureEvidence, at: Millis): WitnessBook {
  const r = book.inFlight;
  if (r === null || r.id !== round || r.evidence !== undefined) return book;
  const counted = at - r.sentAt > w.timeoutMs ? { partnerAlive: false, reason: 'ha_partner_failure_check took longer than witness-timeout' } : evidence;
  return { ...book, inFlight: { ...r, evidence: counted } };
}

/** True when every witness and the evidence check are in, or witness-timeout has passed. */
export function roundFinished(book: WitnessBook, w: WitnessSettings, at: Millis): boolean {
  const r = book.inFlight;
  if (r === null) return false;
  if (at - r.sentAt >= w.timeoutMs) return true;
  return r.evidence !== undefined && w.members.every((m) => m.name in r.answers);
}

/**
 * Closes the round in flight: the verdict, the lease (a majority answered us), the run of
 * partner-failed rounds, and what the partner was seen serving.
 */
export function completeRound(book: WitnessBook, w: WitnessSettings, maxResponseDelay: number): WitnessBook {
  const r = book.inFlight;
  if (r === null) return book;
  const answers = w.members.map((m) => [m.name, r.answers[m.name] ?? { answered: false as const, reason: 'no answer within witness-timeout' }] as const);
  const seen = { ...book.seen };
  for (const [name, a] of answers) if (!(name in r.answers)) seen[name] = { round: r.id, at: r.sentAt + w.timeoutMs, answer: a };
  const answered = answers.filter(([, a]) => a.answered).length;
  const needed = majorityOf(w.members.length);
  const reached = answers.flatMap(([name, a]) => (a.answered && a.reachedPartner ? [{ name, a }] : []));
  const alive = r.evidence?.partnerAlive === true;
  let verdict: WitnessVerdict;
  let reason: string;
  if (reached.length > 0 || alive) {
    verdict = 'partner-alive';
    const by = reached.map((x) => x.name);
    reason = by.length > 0 ? `partner reached by witness ${by.join(', ')}; only the link between the servers is down` : `ha_partner_failure_check: ${r.evidence?.reason ?? ''}`;
  } else if (answered >= needed) {
    verdict = 'partner-failed';
    reason = `${answered} of ${w.members.length} witnesses answered and none reached the partner`;
  } else {
    verdict = 'isolated';
    reason = `only ${answered} of ${w.members.length} witnesses answered (${needed} needed): this server may be the isolated one`;
  }
  const partnerServing =
    reached.length > 0 ? [...new Set(reached.flatMap((x) => (x.a.answered ? x.a.partnerServing : [])))].sort() : book.partnerServing;
  const lease = answered >= needed ? r.sentAt + maxResponseDelay : null;
  const settledAt = r.lastAnswerAt ?? r.sentAt + w.timeoutMs;
  return {
    ...book,
    inFlight: null,
    seen,
    last: { id: r.id, sentAt: r.sentAt, verdict, answered, needed, reachedBy: reached.map((x) => x.name), reason, settledAt },
    failedSince: verdict === 'partner-failed' ? (book.failedSince ?? settledAt) : null,
    leaseUntil: lease !== null && (book.leaseUntil === null || lease > book.leaseUntil) ? lease : book.leaseUntil,
    partnerServing,
  };
}

/** A run of partner-failed rounds whose partner-down window passed unused starts again from the latest round. */
export function expireFailedRun(book: WitnessBook, w: WitnessSettings, maxResponseDelay: number, at: Millis): WitnessBook {
  if (book.failedSince === null || at <= partnerDownWindow(w, maxResponseDelay, book.failedSince).closes) return book;
  const last = book.last;
  const restart = last !== null && last.verdict === 'partner-failed' && at <= partnerDownWindow(w, maxResponseDelay, last.settledAt).closes ? last.settledAt : null;
  return { ...book, failedSince: restart };
}

/** The partner has not acknowledged a heartbeat sent within the last max-response-delay. */
export function partnerSilent(book: WitnessBook, maxResponseDelay: number, at: Millis): boolean {
  return at - book.lastAckedSendAt > maxResponseDelay;
}

export interface ServingGate {
  readonly serving: boolean;
  readonly reason: string;
}

/**
 * Whether this server may serve what its state says, now. While the partner answers, yes. Once it
 * has been silent for max-response-delay, only with a lease from a majority of witnesses and
 * while no witness saw the partner serving one of our scopes.
 */
export function servingGate(book: WitnessBook, cfg: HaConfig, scopes: readonly string[], at: Millis): ServingGate {
  if (!partnerSilent(book, cfg.maxResponseDelay, at)) return { serving: true, reason: 'the partner answers heartbeats' };
  if (book.leaseUntil === null || at >= book.leaseUntil) {
    return { serving: false, reason: 'stepped down: the partner is silent and a majority of witnesses has not answered within max-response-delay' };
  }
  const overlap = book.partnerServing.filter((s) => scopes.includes(s));
  if (overlap.length > 0) return { serving: false, reason: `stepped down: a witness saw the partner serving ${overlap.join(', ')}` };
  return { serving: true, reason: book.last?.reason ?? 'a majority of witnesses answered' };
}

/** Whether the witnesses allow partner-down at `at` (the state handlers ask only once communication is interrupted). */
export function witnessesAllowPartnerDown(book: WitnessBook, w: WitnessSettings, maxResponseDelay: number, at: Millis): boolean {
  if (book.failedSince === null || book.last?.verdict !== 'partner-failed') return false;
  const { opens, closes } = partnerDownWindow(w, maxResponseDelay, book.failedSince);
  return at >= opens && at <= closes && at >= book.lastHeardAt + maxResponseDelay + w.marginMs;
}

/** Future times at which the witness rules change something without any other input. */
export function witnessDeadlines(book: WitnessBook, w: WitnessSettings, maxResponseDelay: number): Millis[] {
  const times: Millis[] = [book.lastAckedSendAt + maxResponseDelay + 1];
  if (book.leaseUntil !== null) times.push(book.leaseUntil);
  if (book.inFlight !== null) times.push(book.inFlight.sentAt + w.timeoutMs);
  if (book.failedSince !== null) {
    const { opens, closes } = partnerDownWindow(w, maxResponseDelay, book.failedSince);
    times.push(Math.max(opens, book.lastHeardAt + maxResponseDelay + w.marginMs), closes + 1);
  }
  return times.filter((t) => t > book.checkedAt);
}

/** What this server serves at `at`: its state's scopes, unless the witness rules hold it back. */
export function servingNow(model: HaModel, cfg: HaConfig, at: Millis): ServingGate & { readonly scopes: readonly string[] } {
  if (!model.serviceEnabled) return { serving: false, scopes: [], reason: `the service is off in ${model.state}` };
  if (cfg.witness === undefined || model.witness === undefined) return { serving: true, scopes: model.scopes, reason: `serving in ${model.state}` };
  const gate = servingGate(model.witness, cfg, model.scopes, at);
  return { ...gate, scopes: gate.serving ? model.scopes : [] };
}
