// Pausing (spec §4): once / always / never, entry actions before the pause, heartbeats while
// paused, ha-continue as the only way out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startModel, step } from '../../../src/hook-libs/ha/machine/ha-machine.ts';
import { answered, config, feed, logIds, modelIn, transitions, Sim } from './ha-fixtures.ts';

test('waiting: once pauses at service start, after the entry actions', () => {
  const cfg = config({ pause: { waiting: 'once' } });
  const r = startModel(cfg, 0);
  assert.equal(r.model.state, 'waiting');
  assert.equal(r.model.pause.paused, true);
  assert.deepEqual(r.model.scopes, []);
  assert.equal(r.model.serviceEnabled, false);
  assert.deepEqual(r.model.heartbeat, { kind: 'armed', dueAt: 1000 }, 'heartbeat scheduled before the pause check');
  assert.ok(logIds(r.outputs).includes('HA_STATE_MACHINE_PAUSED'));
});

test('paused: heartbeats go on and the partner state is recorded, but nothing transitions', () => {
  const cfg = config({ pause: { waiting: 'once' } });
  let m = startModel(cfg, 0).model;
  const tick = step(m, { type: 'tick', at: 1000 }, cfg);
  assert.deepEqual(tick.outputs, [{ type: 'send-heartbeat', to: 'server2' }]);
  const ans = step(tick.model, answered(1005, 'waiting'), cfg);
  m = ans.model;
  assert.equal(m.partner.partnerState, 'waiting');
  assert.equal(m.state, 'waiting', 'primary would go to syncing if not paused');
  assert.deepEqual(m.heartbeat, { kind: 'armed', dueAt: 2005 });
});

test('ha-continue unpauses; nothing runs until the next heartbeat completes', () => {
  const cfg = config({ pause: { waiting: 'once' } });
  let m = startModel(cfg, 0).model;
  m = feed(m, cfg, [{ type: 'tick', at: 1000 }, answered(1000, 'waiting')]).model;
  const cont = step(m, { type: 'continue', at: 1500 }, cfg);
  assert.equal(cont.model.pause.paused, false);
  assert.equal(cont.model.state, 'waiting');
  assert.deepEqual(logIds(cont.outputs), ['HA_STATE_MACHINE_CONTINUED']);
  const again = step(cont.model, { type: 'continue', at: 1600 }, cfg);
  assert.equal(again.model, cont.model, 'continue when not paused changes nothing');
  const next = feed(cont.model, cfg, [{ type: 'tick', at: 2000 }, answered(2000, 'waiting')]);
  assert.deepEqual(transitions(next.outputs), ['syncing']);
});

test('once pauses only the first entry in the life of the server', () => {
  const cfg = config({ pause: { 'load-balancing': 'once' } });
  let m = modelIn('ready');
  let r = step(m, answered(100, 'load-balancing'), cfg);
  assert.equal(r.model.state, 'load-balancing');
  assert.equal(r.model.pause.paused, true);
  m = step(r.model, { type: 'continue', at: 200 }, cfg).model;
  m = step(m, { type: 'reset', at: 300 }, cfg).model;
  m = { ...m, state: 'ready' };
  r = step(m, answered(400, 'load-balancing'), cfg);
  assert.equal(r.model.state, 'load-balancing');
  assert.equal(r.model.pause.paused, false);
});

test('always pauses on every entry, again after ha-reset', () => {
  const cfg = config({ pause: { ready: 'always' } });
  const sim = new Sim([cfg, config({ me: 1 })]);
  sim.advance(5000);
  assert.equal(sim.state('server1'), 'ready');
  assert.equal(sim.models.get('server1')!.pause.paused, true);
  sim.input('server1', { type: 'continue', at: sim.now });
  sim.advance(10_000);
  assert.equal(sim.state('server1'), 'load-balancing');
  assert.equal(sim.state('server2'), 'load-balancing');
  sim.input('server1', { type: 'reset', at: sim.now });
  sim.advance(20_000);
  assert.equal(sim.state('server1'), 'ready');
  assert.equal(sim.models.get('server1')!.pause.paused, true, 'paused again in ready');
});

test('a forced transition while paused enters the new state paused and keeps its once flag', () => {
  const cfg = config({ pause: { 'load-balancing': 'once', 'in-maintenance': 'once' } });
  const m = { ...modelIn('load-balancing'), pause: { paused: true, pausedOnce: ['load-balancing' as const] } };
  const r = step(m, { type: 'maintenance-notify', at: 10, cancel: false }, cfg);
  assert.equal(r.model.state, 'in-maintenance');
  assert.equal(r.model.pause.paused, true);
  assert.deepEqual(r.model.pause.pausedOnce, ['load-balancing']);
});

test('syncing paused: no sync attempt until continued', () => {
  const cfg = config({ pause: { syncing: 'once' } });
  const r = step(modelIn('waiting'), answered(100, 'waiting'), cfg);
  assert.equal(r.model.state, 'syncing');
  assert.equal(r.model.pause.paused, true);
  assert.ok(!r.outputs.some((o) => o.type === 'start-sync'));
  const c = step(r.model, { type: 'continue', at: 200 }, cfg);
  const s = step(c.model, answered(300, 'waiting'), cfg);
  assert.ok(s.outputs.some((o) => o.type === 'start-sync'));
});

test('partner-down paused: failover scopes already taken over, service on', () => {
  const cfg = config({ pause: { 'partner-down': 'always' } });
  const r = step(modelIn('load-balancing'), { type: 'heartbeat-failed', at: 6000, reason: 'x' }, cfg);
  assert.equal(r.model.state, 'partner-down');
  assert.equal(r.model.pause.paused, true);
  assert.deepEqual(r.model.scopes, ['server1', 'server2']);
  assert.equal(r.model.serviceEnabled, true);
});

test('paused partner-down stays even when the partner comes back ready', () => {
  const cfg = config({ pause: { 'partner-down': 'always' } });
  const m = { ...modelIn('partner-down'), pause: { paused: true, pausedOnce: [] } };
  const r = step(m, answered(100, 'ready'), cfg);
  assert.equal(r.model.state, 'partner-down');
});

test('paused backup server stays in waiting; continued, it goes to backup at the next run', () => {
  const cfg = config({ me: 2, pause: { waiting: 'once' } });
  const r = startModel(cfg, 0);
  assert.equal(r.model.state, 'waiting');
  assert.equal(r.model.heartbeat.kind, 'stopped', 'a backup never heartbeats');
  const c = step(r.model, { type: 'continue', at: 1 }, cfg);
  const reset = step({ ...c.model, state: 'ready' }, { type: 'reset', at: 2 }, cfg);
  assert.equal(reset.model.state, 'backup');
});

test('the transition output reports the pause', () => {
  const cfg = config({ pause: { ready: 'always' } });
  const r = step(modelIn('syncing'), { type: 'sync-finished', at: 10, attempt: 1, ok: true }, cfg);
  assert.equal(r.outputs.length, 0, 'a sync result for an attempt that never started is ignored');
  const started = step(modelIn('syncing'), answered(5, 'waiting'), cfg);
  const done = step(started.model, { type: 'sync-finished', at: 10, attempt: 1, ok: true }, cfg);
  const t = done.outputs.find((o) => o.type === 'transitioned');
  assert.ok(t !== undefined && t.type === 'transitioned');
  assert.equal(t.to, 'ready');
  assert.equal(t.paused, true);
});
