// Maintenance, clock skew, scopes, heartbeat timer and whole-pair sequences on a fake clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startModel, step } from '../../../src/hook-libs/ha/machine/ha-machine.ts';
import { answered, config, failed, feed, logIds, modelIn, transitions, Sim } from './ha-fixtures.ts';

test('maintenance start accepted: partner-in-maintenance with failover scopes; cancel returns to the previous state', () => {
  const cfg = config();
  const start = step(modelIn('load-balancing', 'load-balancing'), { type: 'maintenance-start', at: 10, outcome: 'accepted' }, cfg);
  assert.equal(start.model.state, 'partner-in-maintenance');
  assert.deepEqual(start.model.scopes, ['server1', 'server2']);
  const cancel = step(start.model, { type: 'maintenance-cancel', at: 20, partnerState: 'load-balancing' }, cfg);
  assert.equal(cancel.model.state, 'load-balancing');
  assert.equal(cancel.model.partner.partnerState, 'load-balancing');
  assert.deepEqual(cancel.model.scopes, ['server1']);
});

test('the pass right after a cancel is a no-op (maintCanceled), even with the partner unavailable', () => {
  const cfg = config();
  const pim = { ...modelIn('partner-in-maintenance', 'in-maintenance'), previousState: 'load-balancing' as const };
  const cancel = step(pim, { type: 'maintenance-cancel', at: 20 }, cfg);
  assert.deepEqual(transitions(cancel.outputs), ['load-balancing']);
  assert.equal(cancel.model.partner.partnerState, 'unavailable');
});

test('cancel from partner-in-maintenance entered from itself goes to waiting', () => {
  const cfg = config();
  const pim = { ...modelIn('partner-in-maintenance', 'in-maintenance'), previousState: 'partner-in-maintenance' as const };
  assert.equal(step(pim, { type: 'maintenance-cancel', at: 20 }, cfg).model.state, 'waiting');
});

test('maintenance start with the partner unreachable: partner-down with failover scopes despite auto-failover false', () => {
  const cfg = config({ autoFailover: false });
  const r = step(modelIn('load-balancing', 'load-balancing'), { type: 'maintenance-start', at: 10, outcome: 'partner-unavailable' }, cfg);
  assert.equal(r.model.state, 'partner-down');
  assert.deepEqual(r.model.scopes, ['server1', 'server2']);
  assert.equal(r.model.partner.partnerState, 'unavailable');
});

test('partner-down by failure honours auto-failover false: default scopes only', () => {
  const cfg = config({ autoFailover: false });
  const r = step(modelIn('load-balancing'), failed(6000), cfg);
  assert.equal(r.model.state, 'partner-down');
  assert.deepEqual(r.model.scopes, ['server1']);
});

for (const state of ['backup', 'in-maintenance', 'partner-in-maintenance', 'terminated'] as const) {
  test(`maintenance start refused in ${state}`, () => {
    const m = modelIn(state);
    const r = step(m, { type: 'maintenance-start', at: 1, outcome: 'accepted' }, config());
    assert.equal(r.model.state, state);
    assert.deepEqual(r.outputs, []);
  });
}

for (const state of ['backup', 'partner-in-maintenance', 'terminated'] as const) {
  test(`maintenance notify refused in ${state}`, () => {
    const r = step(modelIn(state), { type: 'maintenance-notify', at: 1, cancel: false }, config());
    assert.equal(r.model.state, state);
  });
}

test('maintenance notify: in-maintenance serves nothing, keeps heartbeating; cancel returns with the partner state given', () => {
  const cfg = config({ me: 1 });
  const n = step(modelIn('load-balancing', 'load-balancing'), { type: 'maintenance-notify', at: 1, cancel: false, partnerState: 'load-balancing' }, cfg);
  assert.equal(n.model.state, 'in-maintenance');
  assert.deepEqual(n.model.scopes, []);
  assert.equal(n.model.serviceEnabled, false);
  assert.ok(logIds(n.outputs).includes('HA_MAINTENANCE_SHUTDOWN_SAFE'));
  const hb = feed(n.model, cfg, [answered(1000, 'partner-in-maintenance'), { type: 'tick', at: 2000 }]);
  assert.equal(hb.model.state, 'in-maintenance');
  assert.ok(hb.outputs.some((o) => o.type === 'send-heartbeat'));
  const c = step(hb.model, { type: 'maintenance-notify', at: 3000, cancel: true, partnerState: 'waiting' }, cfg);
  assert.equal(c.model.state, 'load-balancing');
  assert.equal(c.model.partner.partnerState, 'waiting');
});

test('maintenance notify twice: the self-transition makes a later cancel go to waiting', () => {
  const cfg = config({ me: 1 });
  const m = feed(modelIn('load-balancing'), cfg, [
    { type: 'maintenance-notify', at: 1, cancel: false },
    { type: 'maintenance-notify', at: 2, cancel: false },
    { type: 'maintenance-notify', at: 3, cancel: true, partnerState: 'bogus' },
  ]).model;
  assert.equal(m.state, 'waiting');
  assert.equal(m.partner.partnerState, 'unavailable', 'an unknown state label counts as unavailable');
});

test('maintenance cancel notify outside in-maintenance changes nothing', () => {
  const r = step(modelIn('load-balancing'), { type: 'maintenance-notify', at: 1, cancel: true }, config());
  assert.equal(r.model.state, 'load-balancing');
  assert.deepEqual(r.outputs, []);
});

test('clock skew above 60 s terminates (either sign); terminated stops the heartbeat', () => {
  for (const skewMs of [61_000, -61_000]) {
    const r = step(modelIn('load-balancing'), answered(100, 'load-balancing', { skewMs }), config());
    assert.deepEqual(transitions(r.outputs), ['terminated']);
    assert.ok(logIds(r.outputs).includes('HA_HIGH_CLOCK_SKEW_CAUSED_TERMINATION'));
    assert.equal(r.model.heartbeat.kind, 'stopped');
    assert.deepEqual(r.model.scopes, ['server1'], 'terminated serves the default scopes');
    assert.equal(r.model.serviceEnabled, true);
  }
});

test('clock skew of exactly 60 s does not terminate; above 30 s warns at most once a minute', () => {
  const cfg = config();
  const a = step(modelIn('load-balancing'), answered(100, 'load-balancing', { skewMs: 60_000 }), cfg);
  assert.equal(a.model.state, 'load-balancing');
  assert.deepEqual(logIds(a.outputs), ['HA_HIGH_CLOCK_SKEW']);
  const b = step(a.model, answered(30_000, 'load-balancing', { skewMs: 31_000 }), cfg);
  assert.deepEqual(logIds(b.outputs), [], 'rate-limited');
  const c = step(b.model, answered(60_100, 'load-balancing', { skewMs: 31_000 }), cfg);
  assert.deepEqual(logIds(c.outputs), ['HA_HIGH_CLOCK_SKEW']);
  const d = step(c.model, answered(200_000, 'load-balancing', { skewMs: 30_000 }), cfg);
  assert.deepEqual(logIds(d.outputs), [], '30 s is not above 30 s');
});

test('clock skew is checked in waiting too, and a failed heartbeat forgets it', () => {
  const cfg = config();
  const r = step(modelIn('waiting'), answered(100, 'waiting', { skewMs: 90_000 }), cfg);
  assert.deepEqual(transitions(r.outputs), ['terminated']);
  const m = step(modelIn('ready'), answered(100, 'waiting', { skewMs: 45_000 }), cfg).model;
  assert.notEqual(m.partner.partnerWallMs, null);
  assert.equal(step(m, failed(200), cfg).model.partner.partnerWallMs, null);
});

test('terminated leaves only through ha-reset (to waiting, one pass)', () => {
  const cfg = config();
  const t = modelIn('terminated', 'waiting');
  assert.equal(step(t, answered(100, 'waiting'), cfg).model.state, 'terminated');
  const r = step(t, { type: 'reset', at: 200 }, cfg);
  assert.deepEqual(transitions(r.outputs), ['waiting', 'syncing'], 'waiting runs once and may move on');
  assert.equal(r.outputs.filter((o) => o.type === 'start-sync').length, 0, "syncing's handler waits for the next trigger");
  assert.deepEqual(step(modelIn('waiting'), { type: 'reset', at: 1 }, cfg).outputs, [], 'already waiting');
});

test('scopes: defaults per role, ha-scopes overrides until the next state entry', () => {
  assert.deepEqual(step(modelIn('ready'), answered(1, 'load-balancing'), config({ me: 1 })).model.scopes, ['server2']);
  const hs = config({ mode: 'hot-standby', me: 1 });
  const standby = step(modelIn('ready'), answered(1, 'hot-standby'), hs).model;
  assert.deepEqual(standby.scopes, []);
  assert.equal(standby.serviceEnabled, true);
  assert.deepEqual(step(standby, failed(6000), hs).model.scopes, ['server1'], 'standby takes over the primary scope');
  const set = step(standby, { type: 'scopes-set', at: 1, scopes: ['server2', 'server1', 'server1'] }, hs).model;
  assert.deepEqual(set.scopes, ['server1', 'server2']);
  assert.deepEqual(step(set, answered(2, 'partner-down'), hs).model.scopes, [], 'waiting resets the scopes');
});

test('heartbeat timer: armed at start, due after heartbeat-delay, re-armed after each completion', () => {
  const cfg = config();
  let m = startModel(cfg, 0).model;
  assert.deepEqual(step(m, { type: 'tick', at: 999 }, cfg).outputs, []);
  const sent = step(m, { type: 'tick', at: 1000 }, cfg);
  assert.deepEqual(sent.outputs, [{ type: 'send-heartbeat', to: 'server2' }]);
  m = step(sent.model, failed(1300), cfg).model;
  assert.deepEqual(m.heartbeat, { kind: 'armed', dueAt: 2300 });
});

test('no heartbeats: backup, passive-backup primary, heartbeat-delay 0', () => {
  assert.equal(startModel(config({ me: 2 }), 0).model.state, 'backup');
  assert.equal(startModel(config({ me: 2 }), 0).model.heartbeat.kind, 'stopped');
  const pb = startModel(config({ mode: 'passive-backup' }), 0).model;
  assert.equal(pb.state, 'passive-backup');
  assert.deepEqual(pb.scopes, ['server1']);
  assert.equal(pb.heartbeat.kind, 'stopped');
  assert.equal(startModel(config({ overrides: { heartbeatDelay: 0 } }), 0).model.heartbeat.kind, 'stopped');
});

test('sync: heartbeat off while syncing; failure stays and re-arms; success goes on to ready', () => {
  const cfg = config();
  const s = step(modelIn('syncing'), answered(100, 'waiting'), cfg);
  assert.deepEqual(s.outputs, [{ type: 'start-sync', attempt: 1, from: 'server2', timeoutMs: 60000, maxPeriod: 60 }]);
  assert.equal(s.model.heartbeat.kind, 'stopped');
  const again = step(s.model, answered(150, 'waiting'), cfg);
  assert.ok(!again.outputs.some((o) => o.type === 'start-sync'), 'one sync at a time');
  const f = step(s.model, { type: 'sync-finished', at: 200, attempt: 1, ok: false, reason: 'boom', partnerUnavailable: true }, cfg);
  assert.equal(f.model.state, 'syncing');
  assert.deepEqual(f.model.heartbeat, { kind: 'armed', dueAt: 1200 });
  assert.equal(f.model.partner.partnerState, 'unavailable');
  assert.ok(logIds(f.outputs).includes('HA_SYNC_FAILED'));
  const retry = step(f.model, answered(1300, 'ready'), cfg);
  assert.equal(retry.model.syncInFlight, 2);
  const ok = step(retry.model, { type: 'sync-finished', at: 1400, attempt: 2, ok: true }, cfg);
  assert.deepEqual(transitions(ok.outputs), ['ready', 'load-balancing'], 'the chain goes on: ready sees the partner ready');
});

test('ha-sync-complete-notify in partner-down: service off until the next heartbeat fails', () => {
  const cfg = config();
  let m = step(modelIn('partner-down'), { type: 'sync-complete-notified', at: 1 }, cfg).model;
  assert.equal(m.serviceEnabled, false);
  m = { ...m, heartbeat: { kind: 'armed', dueAt: 5 } };
  m = step(m, { type: 'tick', at: 5 }, cfg).model;
  assert.equal(m.syncCompleteNotified, false, 'taken by the heartbeat send');
  const r = step(m, failed(10), cfg);
  assert.equal(r.model.state, 'partner-down');
  assert.equal(r.model.serviceEnabled, true);
  assert.equal(step(modelIn('load-balancing'), { type: 'sync-complete-notified', at: 1 }, cfg).model.serviceEnabled, true);
});

test('sequence: cold start of a load-balancing pair, primary first', () => {
  const sim = new Sim([config(), config({ me: 1 })]);
  sim.advance(10_000);
  assert.equal(sim.state('server1'), 'load-balancing');
  assert.equal(sim.state('server2'), 'load-balancing');
  const s1 = sim.log.filter((l) => l.includes(' server1 ')).map((l) => l.split(' ').slice(2).join(' '));
  assert.deepEqual(s1, ['- -> waiting', 'waiting -> syncing', 'syncing -> ready', 'ready -> load-balancing']);
});

test('sequence: load-balancing partner crash → communication-recovery → partner-down within max-response-delay + heartbeat-delay; rejoin', () => {
  const sim = new Sim([config(), config({ me: 1 })]);
  sim.advance(10_000);
  const lastGood = sim.models.get('server1')!.partner.lastPokeAt;
  sim.down.add('server2');
  sim.advance(30_000);
  const pd = sim.log.find((l) => l.includes('server1 communication-recovery -> partner-down'));
  assert.ok(pd !== undefined, sim.log.join('\n'));
  assert.ok(Number(pd.split(' ')[0]) <= lastGood + 5000 + 1000);
  assert.ok(sim.log.some((l) => l.includes('server1 load-balancing -> communication-recovery')));
  sim.boot('server2');
  sim.advance(40_000);
  assert.equal(sim.state('server1'), 'load-balancing');
  assert.equal(sim.state('server2'), 'load-balancing');
});

test('sequence: hot-standby, kill the primary → standby partner-down; kill the standby → primary partner-down', () => {
  const cfgs = [config({ mode: 'hot-standby' }), config({ mode: 'hot-standby', me: 1 })];
  const sim = new Sim(cfgs);
  sim.advance(10_000);
  assert.equal(sim.state('server1'), 'hot-standby');
  assert.equal(sim.state('server2'), 'hot-standby');
  sim.down.add('server1');
  sim.advance(20_000);
  assert.equal(sim.state('server2'), 'partner-down');
  assert.deepEqual(sim.models.get('server2')!.scopes, ['server1']);
  sim.boot('server1');
  sim.advance(30_000);
  assert.equal(sim.state('server1'), 'hot-standby');
  assert.equal(sim.state('server2'), 'hot-standby');
  sim.down.add('server2');
  sim.advance(40_000);
  assert.equal(sim.state('server1'), 'partner-down');
});

test('sequence: both waiting paused once hold each other; continuing each releases the pair', () => {
  const sim = new Sim([config({ pause: { waiting: 'once' } }), config({ me: 1, pause: { waiting: 'once' } })]);
  sim.advance(10_000);
  assert.equal(sim.state('server1'), 'waiting');
  assert.equal(sim.state('server2'), 'waiting');
  sim.input('server1', { type: 'continue', at: sim.now });
  sim.advance(20_000);
  assert.equal(sim.state('server1'), 'ready', 'primary syncs, then waits in ready for the paused secondary');
  sim.input('server2', { type: 'continue', at: sim.now });
  sim.advance(30_000);
  assert.equal(sim.state('server1'), 'load-balancing');
  assert.equal(sim.state('server2'), 'load-balancing');
});

test('sequence: a server alone goes to partner-down after max-response-delay', () => {
  const sim = new Sim([config()]);
  sim.advance(4_000);
  assert.equal(sim.state('server1'), 'waiting');
  sim.advance(7_000);
  assert.equal(sim.state('server1'), 'partner-down');
});

test('the transition output says how long the partner has been silent', () => {
  const m = step(modelIn('load-balancing'), answered(1000, 'load-balancing'), config()).model;
  const r = step(m, failed(6_100), config());
  const t = r.outputs.find((o) => o.type === 'transitioned');
  assert.ok(t !== undefined && t.type === 'transitioned' && t.to === 'partner-down');
  assert.equal(t.sinceHeartbeatMs, 5_100);
});

test('a heartbeat in flight across a maintenance cancel is ignored, on both sides', () => {
  const cfg = config();
  const a = { ...modelIn('partner-in-maintenance', 'in-maintenance'), previousState: 'load-balancing' as const };
  const aCancelled = step(a, { type: 'maintenance-cancel', at: 10, partnerState: 'load-balancing' }, cfg).model;
  const aLate = step(aCancelled, answered(20, 'in-maintenance'), cfg);
  assert.equal(aLate.model.state, 'load-balancing');
  assert.equal(aLate.model.partner.partnerState, 'load-balancing');
  assert.deepEqual(aLate.model.heartbeat, { kind: 'armed', dueAt: 1020 });
  const b = { ...modelIn('in-maintenance', 'partner-in-maintenance'), previousState: 'load-balancing' as const };
  const bCancelled = step(b, { type: 'maintenance-notify', at: 10, cancel: true, partnerState: 'load-balancing' }, config({ me: 1 })).model;
  const bLate = step(bCancelled, answered(20, 'partner-in-maintenance'), config({ me: 1 }));
  assert.equal(bLate.model.state, 'load-balancing');
  const next = step({ ...bLate.model, heartbeat: { kind: 'in-flight', rearm: true, syncCompleteNotified: false } }, answered(1100, 'partner-in-maintenance'), config({ me: 1 }));
  assert.equal(next.model.state, 'in-maintenance', 'later answers count again');
});
