import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommandError } from '../../../src/core/errors.ts';
import {
  abortMaster, activeProposal, actingRole, applyLocal, commitMaster, emergencyReset, emergencyTransition, followRedirect,
  initialLocalState, localRecordsOf, propose, replayLocal, type LocalRecord, type LocalState,
} from '../../../src/hook-libs/pool/model/local-state.ts';
import {
  nextStep, onAbortSent, onCommitFailed, onCommitted, onDatabaseFetched, onDecided, onPersisted, onProposeFailed, onProposed,
  recoverCoordinator, retryCommits, startCoordinator, voidDecision, type Coordinator,
} from '../../../src/hook-libs/pool/model/master-change.ts';

const A = '127.0.0.1:9001';
const B = '127.0.0.1:9002';
const C = '127.0.0.1:9003';
const ALL = [A, B, C];
const TIMEOUT = 600_000; // xapi's propose_new_master stale window
const T0 = 1_700_000_000_000;

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CommandError);
    assert.equal(e.errorName, 'HA_ABORT_NEW_MASTER');
    assert.equal(e.params.length, 1);
    return e.params[0] as string;
  }
  assert.fail('expected HA_ABORT_NEW_MASTER');
}

test('participant: accepts a proposal, refreshes the same one, refuses a different pending one', () => {
  const s0 = initialLocalState(false, A);
  const s1 = propose(s0, B, true, T0, TIMEOUT, ALL);
  assert.deepEqual(s1.records, [{ kind: 'proposal', proposal: { address: B, wallMs: T0, manual: true } }]);
  const s2 = propose(s1.state, B, true, T0 + 5000, TIMEOUT, ALL);
  assert.equal(s2.state.proposal?.wallMs, T0 + 5000);
  const why = refusal(() => propose(s2.state, C, true, T0 + 7000, TIMEOUT, ALL));
  assert.match(why, /^Already agreed to commit host address '127\.0\.0\.1:9002' at .* \('2' secs ago\)$/);
});

test('participant: a proposal for an address outside the pool is refused', () => {
  assert.match(refusal(() => propose(initialLocalState(false, A), '10.9.9.9', false, T0, TIMEOUT, ALL)), /10\.9\.9\.9/);
});

test('participant: proposals expire after the timeout; then another may be accepted', () => {
  const s1 = propose(initialLocalState(false, A), B, true, T0, TIMEOUT, ALL).state;
  refusal(() => propose(s1, C, true, T0 + TIMEOUT - 1, TIMEOUT, ALL));
  const s2 = propose(s1, C, true, T0 + TIMEOUT, TIMEOUT, ALL).state;
  assert.equal(s2.proposal?.address, C);
  assert.equal(activeProposal(s1, T0 + TIMEOUT, TIMEOUT), undefined, 'an expired promise binds no more');
});

test('participant: commit must match the proposal; it sets the role and clears the promise', () => {
  const s0 = initialLocalState(false, A);
  assert.match(refusal(() => commitMaster(s0, B, C, T0, TIMEOUT)), /never received a proposal/);
  const s1 = propose(s0, B, true, T0, TIMEOUT, ALL).state;
  assert.match(refusal(() => commitMaster(s1, C, C, T0, TIMEOUT)), /previously received proposal for 127\.0\.0\.1:9002/);
  const s2 = commitMaster(s1, B, C, T0 + 1, TIMEOUT);
  assert.deepEqual(s2.state, { role: { kind: 'slave', master: B } });
  assert.deepEqual(commitMaster(s2.state, B, C, T0 + 2, TIMEOUT).records, [], 'a resent commit is answered without change');
  const old = propose(initialLocalState(true, A), B, true, T0, TIMEOUT, ALL).state;
  assert.deepEqual(commitMaster(old, B, A, T0, TIMEOUT).state.role, { kind: 'slave', master: B }, 'the old master becomes a slave');
  const self = propose(initialLocalState(false, A), B, true, T0, TIMEOUT, ALL).state;
  assert.deepEqual(commitMaster(self, B, B, T0, TIMEOUT).state.role, { kind: 'master' });
});

test('participant: abort drops only a promise made to that address', () => {
  const s1 = propose(initialLocalState(false, A), B, true, T0, TIMEOUT, ALL).state;
  assert.deepEqual(abortMaster(s1, C).records, []);
  assert.equal(abortMaster(s1, B).state.proposal, undefined);
  assert.deepEqual(abortMaster(initialLocalState(false, A), B).records, []);
});

test('acting role: an old master that promised another host stops acting as master', () => {
  const m = initialLocalState(true, A);
  assert.equal(actingRole(m, A, T0, TIMEOUT), 'master');
  const promised = propose(m, B, true, T0, TIMEOUT, ALL).state;
  assert.equal(actingRole(promised, A, T0 + 1, TIMEOUT), 'transitioning');
  assert.equal(actingRole(promised, A, T0 + TIMEOUT, TIMEOUT), 'master', 'an expired promise releases it');
  assert.equal(actingRole(initialLocalState(false, A), B, T0, TIMEOUT), 'slave');
});

test('participant state survives a restart: replaying its records gives the same state', () => {
  let s: LocalState = initialLocalState(false, A);
  const log: LocalRecord[] = [];
  for (const st of [propose(s, B, true, T0, TIMEOUT, ALL)]) {
    log.push(...st.records);
    s = st.state;
  }
  assert.deepEqual(replayLocal(initialLocalState(false, A), log), s);
  const c = commitMaster(s, B, C, T0 + 1, TIMEOUT);
  log.push(...c.records);
  assert.deepEqual(replayLocal(initialLocalState(false, A), log), c.state);
  // a crash after the promise but before the commit: the promise is still binding after restart
  const restarted = replayLocal(initialLocalState(false, A), log.slice(0, 1));
  refusal(() => propose(restarted, C, true, T0 + 10, TIMEOUT, ALL));
});

test('emergency transition and reset; redirects are followed unless another master was promised', () => {
  const s = propose(initialLocalState(false, A), B, true, T0, TIMEOUT, ALL).state;
  assert.deepEqual(emergencyTransition(s).state, { role: { kind: 'master' } });
  assert.deepEqual(emergencyReset(s, C, B).state, { role: { kind: 'slave', master: C } });
  assert.deepEqual(followRedirect(s, C, '127.0.0.1:9004', T0 + 1, TIMEOUT).records, [], 'promised B, will not follow C');
  assert.deepEqual(followRedirect(s, B, '127.0.0.1:9004', T0 + 1, TIMEOUT).state, { role: { kind: 'slave', master: B } });
  assert.deepEqual(followRedirect(initialLocalState(true, A), B, A, T0, TIMEOUT).records, [], 'a master does not follow');
});

/** A step's records as `persist kind+kind`. */
const persisted = (records: readonly LocalRecord[]): string => `persist ${records.map((r) => r.kind).join('+')}`;

/**
 * Drives a coordinator against scripted participant answers, in the runner's order (persist,
 * then send, then feed the outcome back); returns the trace of persists and sends.
 */
function drive(c0: Coordinator, answer: (action: string, to: string) => 'ok' | 'fail' | 'refuse'): { trace: string[]; c: Coordinator; outcome: string } {
  let c = c0;
  const trace: string[] = [];
  for (let i = 0; i < 50; i++) {
    const { persist, send: a } = nextStep(c);
    if (persist.length > 0) trace.push(persisted(persist));
    c = onPersisted(c);
    if (a.type === 'finished') {
      trace.push(`finished ${a.outcome}`);
      return { trace, c, outcome: a.outcome };
    }
    if (a.type === 'step-back') assert.fail('no step back in a run within the timeout');
    if (a.type === 'fetch-database') {
      trace.push('fetch-database');
      c = answer('fetch', '') === 'ok' ? onDatabaseFetched(c) : { ...c, phase: 'aborting' };
      continue;
    }
    if (a.type === 'take-over') {
      trace.push('take-over');
      c = onDecided(c);
      continue;
    }
    trace.push(`${a.type} ${a.to}`);
    const r = answer(a.type, a.to);
    if (a.type === 'propose') c = r === 'ok' ? onProposed(c, a.to) : onProposeFailed(c, a.to, { error: 'CANNOT_CONTACT_HOST', params: [a.to] });
    else if (a.type === 'commit') c = r === 'ok' ? onCommitted(c, a.to) : onCommitFailed(c, a.to, r === 'refuse');
    else c = onAbortSent(c, a.to);
  }
  assert.fail('coordinator did not finish');
}

/** The sends of a trace, without the persists. */
const sends = (trace: readonly string[]): string[] => trace.filter((l) => !l.startsWith('persist '));

test('coordinator: persist the start, propose to every peer then itself, fetch, persist the decision, commit to peers', () => {
  const coordinator = startCoordinator(B, ALL, A, T0);
  assert.deepEqual(coordinator.unpersisted, [{ kind: 'coordination', coordination: { address: B, peers: [A, C], oldMaster: A, startedWallMs: T0, decided: false, oldMasterCommitted: false } }]);
  const r = drive(coordinator, () => 'ok');
  assert.deepEqual(r.trace, [
    'persist coordination', `propose ${A}`, `propose ${C}`, `propose ${B}`, 'fetch-database',
    'persist coordination+role+proposal', 'take-over',
    `commit ${A}`, 'persist coordination', `commit ${C}`, 'persist coordination', 'finished committed',
  ]);
});

test('coordinator: a refused proposal aborts to every host asked, including the one that failed', () => {
  const r = drive(startCoordinator(B, ALL, A, T0), (t, to) => (t === 'propose' && to === C ? 'fail' : 'ok'));
  assert.deepEqual(sends(r.trace), [`propose ${A}`, `propose ${C}`, `abort ${A}`, `abort ${C}`, 'finished aborted']);
  const f = nextStep(r.c).send;
  assert.equal(f.type === 'finished' && f.outcome === 'aborted' && f.failure?.error, 'CANNOT_CONTACT_HOST');
});

test('coordinator: the decision records make this host master and end its own promise', () => {
  let c = onPersisted(startCoordinator(B, ALL, A, T0));
  for (const h of [A, C, B]) c = onProposed(c, h);
  c = onDatabaseFetched(c);
  const step = nextStep(c);
  assert.equal(step.send.type, 'take-over');
  const s = step.persist.reduce(applyLocal, propose(initialLocalState(false, A), B, true, T0, TIMEOUT, ALL).state);
  assert.deepEqual(s, { role: { kind: 'master' }, coordination: { address: B, peers: [A, C], oldMaster: A, startedWallMs: T0, decided: true, oldMasterCommitted: false } });
  assert.equal(actingRole(s, B, T0 + 1, TIMEOUT), 'transitioning', 'not master until the old master confirms');
});

test("coordinator: the old master's confirmation is persisted before the next commit goes out", () => {
  let c = onDecided(onPersisted(startCoordinator(B, ALL, A, T0)));
  c = onCommitted(c, A);
  const step = nextStep(c);
  assert.deepEqual(step.send, { type: 'commit', to: C });
  assert.deepEqual(step.persist.map((r) => r.kind === 'coordination' && r.coordination?.oldMasterCommitted), [true]);
  assert.deepEqual(nextStep(onPersisted(c)).persist, [], 'persisted once');
});

test('coordinator: unreachable peers after the decision are resent later; refusals are given up', () => {
  const r = drive(startCoordinator(B, ALL, A, T0), (t, to) => (t === 'commit' && to === A ? 'fail' : t === 'commit' && to === C ? 'refuse' : 'ok'));
  assert.deepEqual(sends(r.trace).slice(-3), [`commit ${A}`, `commit ${C}`, 'finished committed']);
  const before = nextStep(r.c).send;
  assert.deepEqual(before.type === 'finished' && before.outcome === 'committed' && before.unconfirmed, [A]);
  const again = drive(retryCommits(r.c), () => 'ok');
  assert.deepEqual(again.trace, [`commit ${A}`, 'persist coordination+coordination', 'finished committed'], 'confirmation and end in one frame');
});

test('coordinator recovery: an undecided change is aborted everywhere, a decided one resends commits', () => {
  const coord = { address: B, peers: [A, C], oldMaster: A, startedWallMs: T0, oldMasterCommitted: false };
  const undecided = recoverCoordinator({ ...coord, decided: false });
  assert.deepEqual(drive(undecided, () => 'ok').trace, [`abort ${A}`, `abort ${C}`, `abort ${B}`, 'persist coordination', 'finished aborted']);
  const decided = recoverCoordinator({ ...coord, decided: true });
  assert.deepEqual(sends(drive(decided, () => 'ok').trace), [`commit ${A}`, `commit ${C}`, 'finished committed']);
  const halfway = recoverCoordinator({ ...coord, decided: true, oldMasterCommitted: true });
  assert.deepEqual(sends(drive(halfway, () => 'ok').trace), [`commit ${C}`, 'finished committed']);
});

test('a decision is void only if the old master refuses the commit; silence keeps it pending (sim pool seed 312)', () => {
  const decided = recoverCoordinator({ address: B, peers: [A, C], oldMaster: A, startedWallMs: T0, decided: true, oldMasterCommitted: false });
  assert.equal(voidDecision(decided), undefined);
  // The old master's answer to the commit was lost: it may already follow B, so B must not step back.
  const unanswered = onCommitFailed(decided, A, false);
  assert.equal(voidDecision(unanswered), undefined, 'unanswered: still pending, the commit is resent');
  assert.deepEqual(nextStep(retryCommits(unanswered)), { persist: [], send: { type: 'commit', to: A } });
  const refused = onCommitFailed(decided, A, true);
  const back = voidDecision(refused);
  assert.deepEqual(back?.[0], { kind: 'role', role: { kind: 'slave', master: A } }, 'refused by the old master: void at once');
  assert.deepEqual(nextStep(refused), { persist: back, send: { type: 'step-back' } }, 'the step back is persisted before anything else');
  assert.equal(voidDecision(onCommitted(decided, A)), undefined, 'confirmed: stands for good');
});

test('local steps are single frames: replaying arrays (and old single-record frames) gives the same state', () => {
  const s = propose(initialLocalState(false, A), B, true, T0, TIMEOUT, ALL);
  const decision: LocalRecord[] = [{ kind: 'role', role: { kind: 'master' } }, { kind: 'proposal', proposal: null }];
  const frames: unknown[] = [s.records, decision, { kind: 'role', role: { kind: 'slave', master: C } }, { unrelated: true }];
  assert.deepEqual(replayLocal(initialLocalState(false, A), localRecordsOf(frames)), { role: { kind: 'slave', master: C } });
});

test('never two masters: at every step of a change at most one host acts as master', () => {
  // Replays the full protocol with each host's local state and checks the invariant after every step.
  const hosts: Record<string, LocalState> = { [A]: initialLocalState(true, A), [B]: initialLocalState(false, A), [C]: initialLocalState(false, A) };
  const masters = (now: number) => ALL.filter((h) => actingRole(hosts[h] as LocalState, h, now, TIMEOUT) === 'master');
  let now = T0;
  let c = startCoordinator(B, ALL, A, T0);
  for (;;) {
    now += 1;
    assert.ok(masters(now).length <= 1, `two masters: ${masters(now).join(', ')}`);
    const { persist, send: a } = nextStep(c);
    hosts[B] = persist.reduce(applyLocal, hosts[B] as LocalState);
    c = onPersisted(c);
    assert.ok(masters(now).length <= 1, `two masters after persisting: ${masters(now).join(', ')}`);
    if (a.type === 'finished') break;
    if (a.type === 'propose') {
      hosts[a.to] = propose(hosts[a.to] as LocalState, B, true, now, TIMEOUT, ALL).state;
      c = onProposed(c, a.to);
    } else if (a.type === 'fetch-database') c = onDatabaseFetched(c);
    else if (a.type === 'take-over') c = onDecided(c);
    else if (a.type === 'commit') {
      hosts[a.to] = commitMaster(hosts[a.to] as LocalState, B, a.to, now, TIMEOUT).state;
      c = onCommitted(c, a.to);
    }
  }
  assert.deepEqual(masters(now + 1), [B]);
  assert.deepEqual(hosts[A]?.role, { kind: 'slave', master: B });
  assert.deepEqual(hosts[C]?.role, { kind: 'slave', master: B });
  assert.equal(hosts[B]?.coordination, undefined, 'the end of the change is persisted');
});
