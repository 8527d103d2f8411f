// xhad's loop bookkeeping (xhad-loop.ts), shared by the shell and the simulator, and the rules the
// pool-ha simulator profile broke: a host whose first statefile reads hung must read for a
// statefile timeout before it takes slots it sees for the first time as dead (seed 438); survival
// rule 2 holds only while every host outside the liveset is excluded (seed 520).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deriveTimeouts } from '../../../src/hook-libs/pool/ha/timeouts.ts';
import {
  beatDue, emptyObservations, observeHeartbeat, observeRead, slotContent, slotWriteDue, watchdogExpired,
} from '../../../src/hook-libs/pool/ha/xhad/xhad-loop.ts';
import { decodeSlot, encodeSlot } from '../../../src/hook-libs/pool/ha/xhad/statefile-format.ts';
import { holdsMaster, initialState, slotFor, step, type Slot, type XhadConfig, type XhadState } from '../../../src/hook-libs/pool/ha/xhad/xhad-machine.ts';

const t = deriveTimeouts(4000);
const cfg = (me: string): XhadConfig => ({ me, hosts: ['a', 'b', 'c'], generation: 'g1', timeouts: t });
const slot = (host: string, seq: number, over: Partial<Slot> = {}): Slot => ({
  host, generation: 'g1', seq, state: 'online', hb: ['a', 'b', 'c'], sf: ['a', 'b', 'c'], liveset: ['b', 'c'], requesting: false, grant: null, ...over,
});

type Obs = ReturnType<typeof emptyObservations>;
/** Steps `c` every 400 ms from `from` to `to`: each step reads `slots` from the statefile and writes its own slot. */
function stepReading(c: XhadConfig, st: XhadState, obs: Obs, from: number, to: number, slots: (Slot | undefined)[]): XhadState {
  for (let at = from; at <= to; at += 400) {
    observeRead(c, obs, undefined, slots, at);
    obs.ownWriteOkAt = at;
    st = step(c, st, obs, at).state;
  }
  return st;
}

test('a statefile read: a first sight of a slot is no sign of life, a changed seq is; torn, foreign and own slots are skipped', { timeout: 10_000 }, () => {
  const obs = emptyObservations();
  observeRead(cfg('a'), obs, { state: 'active', generation: 'g1' }, [slot('a', 9), slot('b', 1), undefined], 100);
  assert.equal(obs.firstReadOkAt, 100);
  assert.equal(obs.ownReadOkAt, 100);
  assert.equal(obs.slots['a'], undefined, 'own slot not observed');
  assert.equal(obs.slots['b']?.changedAt, -Infinity);
  observeRead(cfg('a'), obs, undefined, [undefined, slot('b', 1), slot('b', 5)], 200);
  assert.equal(obs.slots['b']?.changedAt, -Infinity, 'same seq: no change');
  assert.equal(obs.slots['c'], undefined, "a slot naming another host in c's place is ignored");
  assert.deepEqual(obs.header, { state: 'active', generation: 'g1' }, 'an undecodable header keeps the last one');
  observeRead(cfg('a'), obs, undefined, [undefined, slot('b', 2), undefined], 300);
  assert.equal(obs.slots['b']?.changedAt, 300);
  assert.equal(obs.firstReadOkAt, 100, 'the first read stays the first');
});

test('heartbeats: only members of this generation, never our own', { timeout: 10_000 }, () => {
  const obs = emptyObservations();
  const msg = (from: string, generation = 'g1') => ({ from, generation, state: 'online', sfAccess: true, liveset: [] });
  assert.equal(observeHeartbeat(cfg('a'), obs, msg('b'), 5), true);
  assert.equal(observeHeartbeat(cfg('a'), obs, msg('b', 'g0'), 6), false);
  assert.equal(observeHeartbeat(cfg('a'), obs, msg('z'), 6), false);
  assert.equal(observeHeartbeat(cfg('a'), obs, msg('a'), 6), false);
  assert.equal(observeHeartbeat(cfg('a'), obs, { nonsense: true }, 6), false);
  assert.deepEqual(Object.keys(obs.hb), ['b']);
  assert.equal(obs.hb['b']?.at, 5);
});

test('when to write the slot, beat, and fence on a stalled loop', { timeout: 10_000 }, () => {
  const s = slot('a', 3);
  const content = slotContent(s);
  assert.equal(slotContent({ ...s, seq: 99 }), content, 'the seq is not content');
  assert.equal(slotWriteDue(t, s, content, 1000, 1000 + t.statefileIntervalMs - 1), false);
  assert.equal(slotWriteDue(t, s, content, 1000, 1000 + t.statefileIntervalMs), true, 'interval');
  assert.equal(slotWriteDue(t, { ...s, requesting: true }, content, 1000, 1001), true, 'changed');
  assert.equal(slotWriteDue(t, s, content, 1000, 1001, true), true, 'forced');
  const view = { hbd: ['a'], sfd: ['a'], sfAccess: true };
  assert.equal(beatDue(t, view, 1000, true, 1001), false);
  assert.equal(beatDue(t, view, 1000, false, 1001), true, 'statefile access changed');
  assert.equal(beatDue(t, view, 1000, true, 1000 + t.heartbeatIntervalMs), true);
  assert.equal(watchdogExpired(t, 'online', undefined, 1e9), undefined, 'never ticked');
  assert.equal(watchdogExpired(t, 'joining', 0, 1e9), undefined, 'only an online host fences');
  assert.equal(watchdogExpired(t, 'online', 0, t.heartbeatWatchdogMs), undefined);
  assert.match(watchdogExpired(t, 'online', 0, t.heartbeatWatchdogMs + 1) ?? '', /stalled for 4001 ms/);
});

test('boot join (sim pool-ha seed 438): statefile reads that only just started do not let a host form alone', { timeout: 10_000 }, () => {
  // a booted at 0 but its statefile I/O hung until 4.5 s; b and c are online, writing their slots,
  // and a cannot hear them (partitioned). Their slots are first seen at 4.5 s.
  const c = cfg('a');
  let st = initialState('boot', 0, true);
  const obs = emptyObservations();
  let seq = 10;
  const read = (at: number) => {
    seq += 1;
    observeRead(c, obs, { state: 'active', generation: 'g1' }, [undefined, slot('b', seq), slot('c', seq)], at);
    obs.ownWriteOkAt = at;
  };
  read(4500);
  let r = step(c, st, obs, 4600);
  assert.equal(r.state.mode, 'joining', 'at 4.6 s (past T since boot) the live slots were never seen to change: wait');
  st = r.state;
  for (let at = 4900; at <= 9000; at += 400) {
    read(at);
    r = step(c, st, obs, at);
    st = r.state;
    assert.equal(st.mode, 'joining', `at ${at} ms: b and c are online and do not admit a`);
  }
  // Once b and c are really dead (their slots stop changing), a forms after a statefile timeout.
  st = stepReading(c, st, obs, 9400, 9400 + t.statefileTimeoutMs + 400, [undefined, slot('b', seq, { state: 'left' }), slot('c', seq)]);
  assert.equal(st.mode, 'online');
  assert.deepEqual(st.liveset, ['a']);
});

test('boot join (sim pool-ha seed 1309): a host heard online on the network keeps a booting host from forming alone, though its slot looks dead', { timeout: 10_000 }, () => {
  // b holds a liveset of itself on survival rule 2 (it lost the statefile, so its slot stopped
  // changing); a boots with the statefile and hears b's heartbeats saying it is online.
  const c: XhadConfig = { me: 'a', hosts: ['a', 'b'], generation: 'g1', timeouts: t };
  let st = initialState('boot', 0, true);
  const obs = emptyObservations();
  const b = slot('b', 7, { liveset: ['b'] });
  for (let at = 100; at <= 100 + 3 * t.statefileTimeoutMs; at += 400) {
    observeRead(c, obs, { state: 'active', generation: 'g1' }, [undefined, b], at);
    obs.ownWriteOkAt = at;
    observeHeartbeat(c, obs, { from: 'b', generation: 'g1', state: 'online', sfAccess: false, liveset: ['b'] }, at);
    st = step(c, st, obs, at).state;
    assert.equal(st.mode, 'joining', `at ${at} ms a waits for b to admit it`);
  }
  // b goes quiet on the network too (dead): a forms once b's heartbeats are older than T.
  const quiet = 100 + 3 * t.statefileTimeoutMs;
  st = stepReading(c, st, obs, quiet + 400, quiet + t.heartbeatTimeoutMs + 800, [undefined, b]);
  assert.equal(st.mode, 'online');
  assert.deepEqual(st.liveset, ['a']);
});

test('survival rule 2 (sim pool-ha seed 520): a host that lost the statefile survives only while every host outside its liveset is excluded (left cleanly); a fenced or dead one may reboot onto the statefile and form a liveset there', { timeout: 10_000 }, () => {
  // a holds a liveset of itself (b fenced, or died, or left cleanly); then a loses the statefile.
  const c: XhadConfig = { me: 'a', hosts: ['a', 'b'], generation: 'g1', timeouts: t };
  const online = { ...initialState('boot', 0, true), mode: 'online' as const, liveset: ['a'], holder: 'a', seenHolder: true, confirmedAt: 900 };
  const lostWith = (b: Slot, at = 1000) => {
    const obs = emptyObservations();
    observeRead(c, obs, { state: 'active', generation: 'g1' }, [undefined, slot('b', 1)], 100);
    observeRead(c, obs, undefined, [undefined, b], 200);
    obs.ownWriteOkAt = 900;
    obs.ioFailing = true;
    return step(c, online, obs, at);
  };
  for (const [what, b] of [['fenced', slot('b', 2, { state: 'fenced' })], ['silent (dead)', slot('b', 1)], ['booting', slot('b', 2, { state: 'joining' })]] as const) {
    // No confirmation: a acts only within its lease (it may be a transient I/O failure), then fences.
    const r = lostWith(b);
    assert.equal(r.verdict?.kind, 'pending', `b ${what}: rule 2 does not hold`);
    assert.match(r.verdict?.reason ?? '', /b, outside the liveset and not excluded/);
    assert.equal(r.state.mode, 'online');
    const late = lostWith(b, 900 + t.leaseMs + 1);
    assert.equal(late.state.mode, 'stopped', `b ${what}: a fences when its lease runs out`);
    assert.ok(!holdsMaster(c, late.state, 900 + t.leaseMs + 1));
    assert.match(late.decisions.find((d) => d.kind === 'fence')?.reason ?? '', /b, outside the liveset and not excluded/);
  }
  for (const [what, b] of [['left cleanly', slot('b', 2, { state: 'left' })], ['booting after a clean shutdown', slot('b', 2, { state: 'joining', excluded: true })]] as const) {
    const r = lostWith(b);
    assert.equal(r.state.mode, 'online', `b ${what}: a survives`);
    assert.equal(r.verdict?.kind === 'survive' && r.verdict.rule, 'rule-2');
    assert.ok(holdsMaster(c, r.state, 1000), 'and stays master');
  }
});

test('boot join after a clean shutdown (xha BOOT_BLOCKED_BY_EXCLUDED): an excluded host does not form a liveset alone while another host is not excluded; it does when every host is', { timeout: 10_000 }, () => {
  const c: XhadConfig = { me: 'b', hosts: ['a', 'b'], generation: 'g1', timeouts: t };
  const run = (a: Slot) => {
    let st = initialState('boot', 0, false);
    const obs = emptyObservations();
    for (let at = 100; at <= 100 + 3 * t.statefileTimeoutMs; at += 400) {
      // b's own slot says it left cleanly until b writes its first 'joining' slot.
      const own = obs.ownWriteOkAt === undefined ? slot('b', 5, { state: 'left' }) : slotFor(c, st, { hbd: ['b'], sfd: ['b'], sfAccess: true }, 6);
      observeRead(c, obs, { state: 'active', generation: 'g1' }, [a, own], at);
      obs.ownWriteOkAt = at;
      st = step(c, st, obs, at).state;
    }
    return { st, obs };
  };
  // a holds a liveset on rule 2 off the statefile (its slot is stale and not excluded).
  const blocked = run(slot('a', 3, { liveset: ['a'] }));
  assert.equal(blocked.obs.selfExcluded, true);
  assert.equal(blocked.st.mode, 'joining', 'b waits to be admitted');
  const mine = slotFor(c, blocked.st, { hbd: ['b'], sfd: ['b'], sfAccess: true }, 7);
  assert.equal(mine.excluded, true, "b's joining slot keeps the excluded flag until b joins");
  const back = decodeSlot(['a', 'b'], encodeSlot(['a', 'b'], mine));
  assert.equal(back?.excluded, true, 'the flag survives the statefile encoding');
  assert.equal(decodeSlot(['a', 'b'], encodeSlot(['a', 'b'], { ...mine, state: 'fenced', excluded: undefined }))?.state, 'fenced');
  // Both hosts shut down cleanly: b forms alone after a statefile timeout of reading.
  const formed = run(slot('a', 3, { state: 'left', liveset: ['a', 'b'] }));
  assert.equal(formed.st.mode, 'online');
  assert.deepEqual(formed.st.liveset, ['b']);
  assert.equal(formed.st.excluded, false, 'the flag is cleared at the join');
});

test('survival rule 2 (sim pool-ha seed 5753): a member admitted while booting that still says it is joining does not count as a member — it may form a liveset of its own', { timeout: 10_000 }, () => {
  const c: XhadConfig = { me: 'a', hosts: ['a', 'b'], generation: 'g1', timeouts: t };
  const online = { ...initialState('boot', 0, true), mode: 'online' as const, liveset: ['a', 'b'], holder: 'a', seenHolder: true, confirmedAt: 900 };
  const lostWhile = (bSays: 'joining' | 'online') => {
    const obs = emptyObservations();
    observeRead(c, obs, { state: 'active', generation: 'g1' }, [undefined, slot('b', 1, { state: bSays })], 100);
    observeRead(c, obs, undefined, [undefined, slot('b', 2, { state: bSays })], 200);
    // b's last heartbeat says it has no statefile access (sent before its first read).
    observeHeartbeat(c, obs, { from: 'b', generation: 'g1', state: bSays, sfAccess: false, liveset: bSays === 'online' ? ['a', 'b'] : [] }, 950);
    obs.ownWriteOkAt = 900;
    obs.ioFailing = true;
    return step(c, online, obs, 1000);
  };
  const joining = lostWhile('joining');
  assert.equal(joining.verdict?.kind, 'pending', 'no confirmation: a stops acting when its lease runs out');
  assert.match(joining.verdict?.reason ?? '', /b, still joining and not excluded/);
  const joined = lostWhile('online');
  assert.equal(joined.state.mode, 'online');
  assert.equal(joined.verdict?.kind === 'survive' && joined.verdict.rule, 'rule-2');
});

test('the master lock (sim pool-ha seeds 4008, 4679, 10372): with no holder for T, the lowest host of a settled liveset contends, so a pool whose master never came back gets one; not while a host outside the liveset is alive, nor a higher host', { timeout: 10_000 }, () => {
  const run = (me: 'a' | 'b', cAlive: boolean) => {
    const c: XhadConfig = { me, hosts: ['a', 'b', 'c'], generation: 'g1', timeouts: t };
    const peer = me === 'a' ? 'b' : 'a';
    let st: XhadState = { ...initialState('boot', 0, false), mode: 'online', liveset: ['a', 'b'], holderSeenAt: 1000, confirmedAt: 1000 };
    const obs = emptyObservations();
    let seq = 1;
    const requestingAt = (at: number) => {
      const slots: (Slot | undefined)[] = [undefined, undefined, undefined];
      slots[['a', 'b', 'c'].indexOf(peer)] = slot(peer, seq, { liveset: ['a', 'b'] });
      // c: dead (its slot never changes) or alive outside the liveset (its slot changes).
      slots[2] = slot('c', cAlive ? seq : 1, { state: 'joining', liveset: [] });
      seq++;
      observeRead(c, obs, { state: 'active', generation: 'g1' }, slots, at);
      observeHeartbeat(c, obs, { from: peer, generation: 'g1', state: 'online', sfAccess: true, liveset: ['a', 'b'] }, at);
      obs.ownWriteOkAt = at;
      st = step(c, st, obs, at).state;
      return st.requesting;
    };
    const before: boolean[] = [];
    for (let at = 1200; at < 1000 + t.baseMs; at += 400) before.push(requestingAt(at));
    return { before, after: requestingAt(1000 + t.baseMs), st };
  };
  const lowest = run('a', false);
  assert.deepEqual(lowest.before.filter(Boolean), [], 'within T a leaves the lock to the master');
  assert.equal(lowest.after, true, 'after T without a holder a contends');
  assert.equal(lowest.st.grant, 'a');
  assert.equal(run('b', false).after, false, 'b is not the lowest in its liveset');
  assert.equal(run('a', true).after, false, 'c, alive outside the liveset, may be a master rejoining: a waits');
});
