// The witness rules of the pure HA machine on a fake clock: a cut link (partner reached by a
// witness), a failed partner (majority answered, nobody reached it), isolation (no majority), and
// the timing bound between the isolated server's step-down and the survivor's partner-down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { step } from '../../../src/hook-libs/ha/machine/ha-machine.ts';
import { completeRound, initialWitnessBook, recordAnswer, beginRound, servingGate } from '../../../src/hook-libs/ha/machine/witness.ts';
import { config, logIds, transitions } from './ha-fixtures.ts';
import { D, H, M, T, WitnessWorld, reaches, unreachable, witnessConfig } from './witness-world.ts';

const LB = { state: 'load-balancing' as const, scopes: ['server2'] };
/** The partner answers until `cutAt`, then never again. */
const partnerUntil = (cutAt: number, s: { state: 'load-balancing' | 'hot-standby'; scopes: string[] } = LB) => (at: number) => (at < cutAt ? s : null);

/** A server in its normal state with the partner answering, ready for a fault at 2000. */
function settled(cfg = witnessConfig(), cutAt = 2000, witnesses: ConstructorParameters<typeof WitnessWorld>[2] = () => ({ answer: unreachable, afterMs: 10 })) {
  const world = new WitnessWorld(cfg, partnerUntil(cutAt), witnesses);
  world.advance(1000);
  return world;
}

test('a pair with witnesses reaches load-balancing as without; no probes while heartbeats work', () => {
  const w = settled();
  assert.equal(w.state, 'load-balancing');
  assert.deepEqual(w.served(), ['server1']);
  assert.equal(w.of('probe-witnesses').length, 0);
  assert.equal(w.of('serving-changed').length, 0);
});

test('link cut, a witness reaches the partner: no partner-down, own scopes served throughout, heal returns to load-balancing', () => {
  const w = settled(witnessConfig(), 2000, () => ({ answer: reaches('communication-recovery', ['server2']), afterMs: 20 }));
  for (let t = 2000; t <= 8000; t += 50) {
    w.advance(t);
    assert.deepEqual(w.served(), ['server1'], `own scope served at ${t}`);
  }
  assert.equal(w.state, 'communication-recovery');
  assert.equal(w.enteredAt('partner-down'), undefined);
  const verdicts = w.of('witness-verdict');
  assert.ok(verdicts.length > 10, 'a round per failed heartbeat');
  assert.ok(verdicts.every((v) => v.o.verdict === 'partner-alive'));
  assert.deepEqual(verdicts[0]!.o.reachedBy, ['w1']);
  assert.equal(verdicts.filter((v) => v.o.changed).length, 1, 'the verdict is reported once');
  assert.ok(logIds(w.outputs.map((x) => x.o)).includes('HA_WITNESS_VERDICT'));
  assert.equal(w.of('serving-changed').length, 0, 'never stepped down');
  // heal
  w.partner = () => ({ state: 'communication-recovery', scopes: ['server2'] });
  w.advance(8500);
  assert.equal(w.state, 'load-balancing');
});

test('hot-standby link cut: the standby stays hot-standby serving nothing, and never takes over', () => {
  const cfg = witnessConfig({ mode: 'hot-standby', me: 1 });
  const w = new WitnessWorld(cfg, partnerUntil(2000, { state: 'hot-standby', scopes: ['server1'] }), () => ({ answer: reaches('hot-standby', ['server1']), afterMs: 5 }));
  w.advance(1900);
  assert.equal(w.state, 'hot-standby');
  w.advance(9000);
  assert.equal(w.state, 'hot-standby');
  assert.deepEqual(w.served(), []);
  assert.equal(w.enteredAt('partner-down'), undefined);
});

test('partner failed: majority answered, none reached it: partner-down inside the window D + M after the first such round came back', () => {
  const w = settled();
  w.advance(6000);
  assert.equal(w.state, 'partner-down');
  const firstRound = w.of('probe-witnesses')[0]!.at;
  const back = w.of('witness-verdict')[0]!.at;
  assert.equal(back, firstRound + 10, 'the round settles when the last answer is in');
  const down = w.enteredAt('partner-down')!;
  assert.ok(down >= back + D + M, `partner-down at ${down}, first round back at ${back}`);
  assert.ok(down <= back + D + 2 * M);
  assert.ok(down <= firstRound + D + T + 2 * M, 'within the bound whatever the round trip');
  assert.deepEqual(w.served(), ['server1', 'server2']);
  assert.deepEqual(transitions(w.outputs.map((x) => x.o)).slice(-2), ['communication-recovery', 'partner-down']);
});

test('isolated: no witness answers: steps down at max-response-delay, never goes partner-down', () => {
  const w = settled(witnessConfig(), 2000, () => null);
  w.advance(1999);
  const lastAckedSend = w.model.witness!.lastAckedSendAt;
  assert.ok(lastAckedSend >= 1900);
  assert.deepEqual(w.served(lastAckedSend + D), ['server1'], 'still serving at exactly D');
  assert.deepEqual(w.served(lastAckedSend + D + 1), [], 'nothing right after D, whether or not a timer ran');
  w.advance(9000);
  assert.equal(w.enteredAt('partner-down'), undefined);
  const down = w.of('serving-changed')[0]!;
  assert.equal(down.o.serving, false);
  assert.ok(down.at <= lastAckedSend + D + 1);
  assert.ok(logIds(w.outputs.map((x) => x.o)).includes('HA_WITNESS_STEPPED_DOWN'));
  assert.ok(w.of('witness-verdict').every((v) => v.o.verdict === 'isolated'));
  // The link comes back: the partner took over meanwhile; Kea's rules resync us.
  w.partner = () => ({ state: 'partner-down', scopes: ['server1', 'server2'] });
  w.advance(9200);
  assert.ok(w.outputs.some((x) => x.at > 9000 && x.o.type === 'transitioned' && x.o.to === 'waiting'), 'back to waiting to resync');
  assert.deepEqual(w.served(), []);
});

test('the isolated server steps down strictly before the survivor may take over, for every cut time', () => {
  for (let cut = 2000; cut < 2200; cut += 7) {
    const isolated = settled(witnessConfig({ me: 1 }), cut, (_n, at) => (at < cut ? { answer: reaches('load-balancing', ['server1']), afterMs: 5 } : null));
    const survivor = settled(witnessConfig(), cut, (_n, at) => ({ answer: at < cut ? reaches('load-balancing', ['server2']) : unreachable, afterMs: 5 }));
    isolated.advance(9000);
    survivor.advance(9000);
    const takeover = survivor.enteredAt('partner-down');
    assert.ok(takeover !== undefined, `cut ${cut}: survivor took over`);
    const stepDown = isolated.of('serving-changed').find((x) => !x.o.serving)?.at;
    assert.ok(stepDown !== undefined && stepDown < takeover, `cut ${cut}: step-down ${stepDown} before takeover ${takeover}`);
    assert.deepEqual(isolated.served(takeover), [], `cut ${cut}: the isolated server serves nothing when the survivor takes over`);
    assert.ok(stepDown <= cut + D + 1, 'step-down at max-response-delay after the cut');
    assert.ok(takeover >= cut + D + M, 'takeover no earlier than D + round trip + M after the cut');
  }
});

test('three witnesses: two unreachable answers are a majority; one answer is not', () => {
  const cfg = witnessConfig({ witnesses: 3 });
  const two = settled(cfg, 2000, (name) => (name === 'w3' ? null : { answer: unreachable, afterMs: 5 }));
  two.advance(6000);
  assert.equal(two.state, 'partner-down');
  assert.equal(two.of('witness-verdict')[0]!.o.needed, 2);
  const one = settled(cfg, 2000, (name) => (name === 'w1' ? { answer: unreachable, afterMs: 5 } : null));
  one.advance(6000);
  assert.notEqual(one.state, 'partner-down');
  assert.equal(one.of('witness-verdict')[0]!.o.verdict, 'isolated');
  assert.deepEqual(one.served(), []);
});

test('an answer later than witness-timeout counts as none', () => {
  const w = settled(witnessConfig(), 2000, () => ({ answer: unreachable, afterMs: T + 30 }));
  w.advance(6000);
  assert.notEqual(w.state, 'partner-down');
  assert.ok(w.of('witness-verdict').every((v) => v.o.verdict === 'isolated'));
  const seen = w.model.witness!.seen['w1']!;
  assert.equal(seen.answer.answered, false);
});

test('a timer late past the partner-down window does not take over on a stale round; it starts again from a later one', () => {
  const w = settled();
  w.timerLateMs = 2 * M + 10;
  w.advance(3500);
  const w2 = settled();
  w2.advance(3500);
  const late = w.enteredAt('partner-down');
  const onTime = w2.enteredAt('partner-down')!;
  assert.ok(late === undefined || late > onTime, 'late timers take over later, never inside a closed window');
  for (const x of w.of('transitioned').filter((x) => x.o.to === 'partner-down')) {
    const rounds = w.of('witness-verdict').map((r) => r.at);
    assert.ok(rounds.some((s) => x.at >= s + D + M && x.at <= s + D + 2 * M), 'inside some round window');
  }
});

test('a heartbeat from the partner postpones partner-down to max-response-delay + margin after it', () => {
  const w = settled();
  w.advance(2400);
  w.input({ type: 'partner-heard', at: 2400 });
  w.advance(6000);
  const down = w.enteredAt('partner-down');
  assert.ok(down === undefined || down >= 2400 + D + M, `partner-down at ${down}`);
});

test('ha_partner_failure_check evidence that the partner is alive holds partner-down back', () => {
  const w = settled();
  w.evidence = () => ({ partnerAlive: true, reason: 'clients still see server2' });
  w.advance(6000);
  assert.equal(w.enteredAt('partner-down'), undefined);
  assert.equal(w.of('witness-verdict')[0]!.o.verdict, 'partner-alive');
  assert.match(w.of('witness-verdict')[0]!.o.reason, /clients still see server2/);
  assert.deepEqual(w.served(), ['server1']);
});

test('a witness that sees the partner serving our scope makes us step down despite a majority', () => {
  const w = settled(witnessConfig(), 2000, () => ({ answer: reaches('partner-down', ['server1', 'server2']), afterMs: 5 }));
  w.advance(4000);
  assert.deepEqual(w.served(), []);
  assert.match(w.of('serving-changed')[0]!.o.reason, /serving server1/);
  assert.equal(w.enteredAt('partner-down'), undefined);
});

test('the serving gate: lease, expiry and overlap', () => {
  const cfg = witnessConfig({ witnesses: 3 });
  const w = cfg.witness!;
  let book = { ...initialWitnessBook(0), lastAckedSendAt: 0 };
  const started = beginRound(book, 600)!;
  book = started.book;
  book = recordAnswer(book, w, started.id, 'w1', unreachable, 610);
  book = recordAnswer(book, w, started.id, 'w2', reaches('load-balancing', ['server2']), 620);
  book = recordAnswer(book, w, started.id, 'nobody', unreachable, 620);
  book = completeRound(book, w, D);
  assert.equal(book.last?.verdict, 'partner-alive');
  assert.equal(book.leaseUntil, 600 + D);
  assert.equal(servingGate(book, cfg, ['server1'], 1099).serving, true);
  assert.equal(servingGate(book, cfg, ['server1'], 1100).serving, false);
  assert.equal(servingGate(book, cfg, ['server1', 'server2'], 1000).serving, false, 'overlap with what the partner serves');
  assert.equal(servingGate(book, cfg, ['server1'], 400).serving, true, 'partner not silent yet');
});

test('without witnesses: no witness outputs, no model additions, partner-heard changes nothing', () => {
  const cfg = config({ overrides: { heartbeatDelay: H, maxResponseDelay: D } });
  const w = new WitnessWorld(cfg, partnerUntil(2000), () => null);
  w.advance(3000);
  assert.equal(w.state, 'partner-down');
  assert.equal(w.model.witness, undefined);
  assert.equal(w.of('probe-witnesses').length + w.of('witness-verdict').length + w.of('serving-changed').length, 0);
  const r = step(w.model, { type: 'partner-heard', at: 3000 }, cfg);
  assert.equal(r.model, w.model);
  assert.deepEqual(r.outputs, []);
  assert.ok(H > 0);
});

test('every failure episode reports its verdict once: a link cut, healed, and cut again gives two reported verdicts', () => {
  const answering = (at: number) => (at < 2000 || (at >= 5000 && at < 7000) ? LB : null);
  const w = new WitnessWorld(witnessConfig(), answering, () => ({ answer: reaches('communication-recovery', ['server2']), afterMs: 20 }));
  w.advance(4900);
  const first = w.of('witness-verdict');
  assert.ok(first.length > 3, 'a round per failed heartbeat during the first cut');
  assert.equal(first.filter((v) => v.o.changed).length, 1);
  w.advance(5500);
  const healed = w.of('witness-verdict').length;
  w.advance(6900);
  assert.equal(w.of('witness-verdict').length, healed, 'no rounds while heartbeats work');
  w.advance(10_000);
  const all = w.of('witness-verdict');
  assert.ok(all.length > healed + 3, 'rounds again during the second cut');
  assert.equal(all.filter((v) => v.o.changed).length, 2, 'the second cut reports its (same) verdict again');
  assert.equal(logIds(w.outputs.map((x) => x.o)).filter((id) => id === 'HA_WITNESS_VERDICT').length, 2);
});
