import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommandError } from '../../../src/core/errors.ts';
import {
  abortMaster, actingRole, applyLocal, commitMaster, emergencyReset, emergencyTransition, expireProposal, followRedirect,
  initialLocalState, propose, replayLocal, type LocalRecord, type LocalState,
} from '../../../src/hook-libs/pool/model/local-state.ts';
import {
  nextAction, onAbortSent, onCommitFailed, onCommitted, onDatabaseFetched, onDecided, onFinished, onProposeFailed, onProposed,
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
  assert.deepEqual(expireProposal(s1, T0 + TIMEOUT, TIMEOUT).records, [{ kind: 'proposal', proposal: null }]);
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

/** Drives a coordinator against scripted participant answers; returns the trace of actions. */
function drive(c0: Coordinator, answer: (action: string, to: string) => 'ok' | 'fail' | 'refuse'): { trace: string[]; c: Coordinator; outcome: string } {
  let c = c0;
  const trace: string[] = [];
  for (let i = 0; i < 50; i++) {
    const a = nextAction(c);
    if (a.type === 'finished') {
      trace.push(`finished ${a.outcome}`);
      return { trace, c: onFinished(c), outcome: a.outcome };
    }
    if (a.type === 'fetch-database') {
      trace.push('fetch-database');
      c = answer('fetch', '') === 'ok' ? onDatabaseFetched(c) : { ...c, phase: 'aborting' };
      continue;
    }
    if (a.type === 'decide') {
      trace.push('decide');
      c = onDecided(c);
      continue;
    }
    trace.push(`${a.type} ${a.to}`);
    const r = answer(a.type, a.to);
    if (a.type === 'propose') c = r === 'ok' ? onProposed(c, a.to) : onProposeFailed(c, a.to, { error: 'CANNOT_CONTACT_HOST', params: [a.to] });
    else if (a.type === 'commit') c = r === 'ok' ? onCommitted(c, a.to).coordinator : onCommitFailed(c, a.to, r === 'refuse');
    else c = onAbortSent(c, a.to);
  }
  assert.fail('coordinator did not finish');
}

test('coordinator: propose to every peer then itself, fetch the database, decide, commit to peers', () => {
  const { coordinator, record } = startCoordinator(B, ALL, A, T0);
  assert.deepEqual(record, { kind: 'coordination', coordination: { address: B, peers: [A, C], oldMaster: A, startedWallMs: T0, decided: false, oldMasterCommitted: false } });
  const r = drive(coordinator, () => 'ok');
  assert.deepEqual(r.trace, [`propose ${A}`, `propose ${C}`, `propose ${B}`, 'fetch-database', 'decide', `commit ${A}`, `commit ${C}`, 'finished committed']);
});

test('coordinator: a refused proposal aborts to every host asked, including the one that failed', () => {
  const r = drive(startCoordinator(B, ALL, A, T0).coordinator, (t, to) => (t === 'propose' && to === C ? 'fail' : 'ok'));
  assert.deepEqual(r.trace, [`propose ${A}`, `propose ${C}`, `abort ${A}`, `abort ${C}`, 'finished aborted']);
  const f = nextAction(r.c);
  assert.equal(f.type === 'finished' && f.outcome === 'aborted' && f.failure?.error, 'CANNOT_CONTACT_HOST');
});

test('coordinator: the decision records make this host master and end its own promise', () => {
  let c = startCoordinator(B, ALL, A, T0).coordinator;
  for (const h of [A, C, B]) c = onProposed(c, h);
  c = onDatabaseFetched(c);
  const a = nextAction(c);
  assert.equal(a.type, 'decide');
  const s = (a.type === 'decide' ? a.records : []).reduce(applyLocal, propose(initialLocalState(false, A), B, true, T0, TIMEOUT, ALL).state);
  assert.deepEqual(s, { role: { kind: 'master' }, coordination: { address: B, peers: [A, C], oldMaster: A, startedWallMs: T0, decided: true, oldMasterCommitted: false } });
  assert.equal(actingRole(s, B, T0 + 1, TIMEOUT), 'transitioning', 'not master until the old master confirms');
});

test('coordinator: unreachable peers after the decision are resent later; refusals are given up', () => {
  let r = drive(startCoordinator(B, ALL, A, T0).coordinator, (t, to) => (t === 'commit' && to === A ? 'fail' : t === 'commit' && to === C ? 'refuse' : 'ok'));
  assert.deepEqual(r.trace.slice(-3), [`commit ${A}`, `commit ${C}`, 'finished committed']);
  const before = nextAction({ ...r.c, phase: 'decided' });
  assert.deepEqual(before.type === 'finished' && before.outcome === 'committed' && before.unconfirmed, [A]);
  const again = drive(retryCommits({ ...r.c, phase: 'decided' }), () => 'ok');
  assert.deepEqual(again.trace, [`commit ${A}`, 'finished committed']);
  r = again;
});

test('coordinator recovery: an undecided change is aborted everywhere, a decided one resends commits', () => {
  const coord = { address: B, peers: [A, C], oldMaster: A, startedWallMs: T0, oldMasterCommitted: false };
  const undecided = recoverCoordinator({ ...coord, decided: false });
  assert.deepEqual(drive(undecided, () => 'ok').trace, [`abort ${A}`, `abort ${C}`, `abort ${B}`, 'finished aborted']);
  const decided = recoverCoordinator({ ...coord, decided: true });
  assert.deepEqual(drive(decided, () => 'ok').trace, [`commit ${A}`, `commit ${C}`, 'finished committed']);
  const halfway = recoverCoordinator({ ...coord, decided: true, oldMasterCommitted: true });
  assert.deepEqual(drive(halfway, () => 'ok').trace, [`commit ${C}`, 'finished committed']);
});

test('a decision is void only if the old master refuses the commit; silence keeps it pending (sim pool seed 312)', () => {
  const decided = recoverCoordinator({ address: B, peers: [A, C], oldMaster: A, startedWallMs: T0, decided: true, oldMasterCommitted: false });
  assert.equal(voidDecision(decided), undefined);
  // The old master's answer to the commit was lost: it may already follow B, so B must not step back.
  const unanswered = onCommitFailed(decided, A, false);
  assert.equal(voidDecision(unanswered), undefined, 'unanswered: still pending, the commit is resent');
  assert.deepEqual(nextAction(retryCommits(unanswered)), { type: 'commit', to: A });
  const back = voidDecision(onCommitFailed(decided, A, true));
  assert.deepEqual(back?.[0], { kind: 'role', role: { kind: 'slave', master: A } }, 'refused by the old master: void at once');
  assert.equal(voidDecision(onCommitted(decided, A).coordinator), undefined, 'confirmed: stands for good');
});

test('never two masters: at every step of a change at most one host acts as master', () => {
  // Replays the full protocol with each host's local state and checks the invariant after every step.
  const hosts: Record<string, LocalState> = { [A]: initialLocalState(true, A), [B]: initialLocalState(false, A), [C]: initialLocalState(false, A) };
  const masters = (now: number) => ALL.filter((h) => actingRole(hosts[h] as LocalState, h, now, TIMEOUT) === 'master');
  let now = T0;
  let c = startCoordinator(B, ALL, A, T0).coordinator;
  hosts[B] = applyLocal(hosts[B] as LocalState, startCoordinator(B, ALL, A, T0).record);
  for (;;) {
    now += 1;
    assert.ok(masters(now).length <= 1, `two masters: ${masters(now).join(', ')}`);
    const a = nextAction(c);
    if (a.type === 'finished') break;
    if (a.type === 'propose') {
      hosts[a.to] = propose(hosts[a.to] as LocalState, B, true, now, TIMEOUT, ALL).state;
      c = onProposed(c, a.to);
    } else if (a.type === 'fetch-database') c = onDatabaseFetched(c);
    else if (a.type === 'decide') {
      hosts[B] = a.records.reduce(applyLocal, hosts[B] as LocalState);
      c = onDecided(c);
    } else if (a.type === 'commit') {
      hosts[a.to] = commitMaster(hosts[a.to] as LocalState, B, a.to, now, TIMEOUT).state;
      const done = onCommitted(c, a.to);
      c = done.coordinator;
      if (done.record) hosts[B] = applyLocal(hosts[B] as LocalState, done.record);
    }
  }
  assert.deepEqual(masters(now + 1), [B]);
  assert.deepEqual(hosts[A]?.role, { kind: 'slave', master: B });
  assert.deepEqual(hosts[C]?.role, { kind: 'slave', master: B });
});
