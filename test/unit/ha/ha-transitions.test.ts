// Kea's (my state, partner state) → next state tables (spec §2.3–§2.10), one row per case, driven
// through the pure machine: a heartbeat answer records the partner state and runs the handlers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { step } from '../../../src/hook-libs/ha/machine/ha-machine.ts';
import type { HaState, PartnerState } from '../../../src/hook-libs/ha/machine/ha-state.ts';
import type { ConfigOptions } from './ha-fixtures.ts';
import { answered, config, failed, modelIn, transitions } from './ha-fixtures.ts';

const MRD = 5000; // max-response-delay of the fixture config

type Row = readonly [from: HaState, partner: PartnerState, expected: HaState | 'stay' | 'sync', opts?: ConfigOptions & { interrupted?: boolean; note?: string }];

function runRow([from, partner, expected, opts = {}]: Row): void {
  const cfg = config(opts);
  const model = modelIn(from);
  const input = partner === 'unavailable' ? failed(opts.interrupted === true ? MRD + 1 : 100) : answered(100, partner);
  const r = step(model, input, cfg);
  const first = transitions(r.outputs)[0];
  if (expected === 'stay' || expected === 'sync') {
    assert.equal(first, undefined, `expected ${from} to stay, went to ${first}`);
    assert.equal(r.model.state, from);
    const syncStarted = r.outputs.some((o) => o.type === 'start-sync');
    assert.equal(syncStarted, expected === 'sync', `sync started: ${syncStarted}`);
  } else {
    assert.equal(first, expected);
  }
}

function table(name: string, rows: readonly Row[]): void {
  for (const row of rows) {
    const [from, partner, expected, opts] = row;
    const extra = [opts?.mode, opts?.me === 1 ? 'secondary/standby' : undefined, opts?.interrupted === true ? 'interrupted' : undefined, opts?.note]
      .filter((x) => x !== undefined)
      .join(', ');
    test(`${name}: ${from} + partner ${partner}${extra ? ` (${extra})` : ''} → ${expected}`, () => runRow(row));
  }
}

const HS = { mode: 'hot-standby' } as const;
const SECONDARY = { me: 1 } as const;

table('waiting (§2.3)', [
  ['waiting', 'communication-recovery', 'syncing'],
  ['waiting', 'hot-standby', 'syncing', HS],
  ['waiting', 'load-balancing', 'syncing'],
  ['waiting', 'in-maintenance', 'syncing'],
  ['waiting', 'partner-down', 'syncing'],
  ['waiting', 'partner-in-maintenance', 'syncing'],
  ['waiting', 'ready', 'syncing'],
  ['waiting', 'ready', 'ready', { overrides: { syncLeases: false }, note: 'sync-leases false' }],
  ['waiting', 'syncing', 'stay'],
  ['waiting', 'terminated', 'stay', { note: 'partner just terminated' }],
  ['waiting', 'waiting', 'syncing', { note: 'primary moves first' }],
  ['waiting', 'waiting', 'stay', SECONDARY],
  ['waiting', 'unavailable', 'partner-down', { interrupted: true }],
  ['waiting', 'unavailable', 'stay'],
  ['waiting', 'backup', 'stay'],
  ['waiting', 'passive-backup', 'stay'],
  ['waiting', 'hot-standby', 'stay', { note: 'invalid partner state in load-balancing: stay' }],
]);

table('syncing (§2.4)', [
  ['syncing', 'terminated', 'terminated'],
  ['syncing', 'unavailable', 'partner-down', { interrupted: true }],
  ['syncing', 'unavailable', 'stay'],
  ['syncing', 'waiting', 'sync'],
  ['syncing', 'ready', 'sync'],
  ['syncing', 'load-balancing', 'sync'],
  ['syncing', 'partner-down', 'sync'],
  ['syncing', 'syncing', 'sync'],
  ['syncing', 'hot-standby', 'waiting', { note: 'invalid partner state' }],
]);

table('ready (§2.5)', [
  ['ready', 'hot-standby', 'hot-standby', HS],
  ['ready', 'hot-standby', 'hot-standby', { ...HS, ...SECONDARY }],
  ['ready', 'load-balancing', 'load-balancing', SECONDARY],
  ['ready', 'communication-recovery', 'load-balancing'],
  ['ready', 'in-maintenance', 'partner-in-maintenance'],
  ['ready', 'partner-in-maintenance', 'in-maintenance'],
  ['ready', 'ready', 'load-balancing', { note: 'primary moves first' }],
  ['ready', 'ready', 'hot-standby', HS],
  ['ready', 'ready', 'stay', SECONDARY],
  ['ready', 'terminated', 'terminated'],
  ['ready', 'unavailable', 'partner-down', { interrupted: true }],
  ['ready', 'unavailable', 'stay'],
  ['ready', 'waiting', 'stay'],
  ['ready', 'syncing', 'stay'],
  ['ready', 'partner-down', 'stay'],
  ['ready', 'load-balancing', 'waiting', { ...HS, note: 'invalid partner state' }],
]);

table('load-balancing (§2.6)', [
  ['load-balancing', 'in-maintenance', 'partner-in-maintenance'],
  ['load-balancing', 'partner-down', 'waiting'],
  ['load-balancing', 'partner-in-maintenance', 'in-maintenance'],
  ['load-balancing', 'terminated', 'terminated'],
  ['load-balancing', 'unavailable', 'partner-down', { interrupted: true }],
  ['load-balancing', 'unavailable', 'communication-recovery', { note: 'delayed-updates-limit > 0' }],
  ['load-balancing', 'unavailable', 'stay', { overrides: { delayedUpdatesLimit: 0 }, note: 'delayed-updates-limit 0' }],
  ['load-balancing', 'load-balancing', 'stay'],
  ['load-balancing', 'waiting', 'stay'],
  ['load-balancing', 'ready', 'stay'],
  ['load-balancing', 'syncing', 'stay'],
  ['load-balancing', 'hot-standby', 'waiting', { note: 'invalid partner state' }],
]);

table('hot-standby (§2.6)', [
  ['hot-standby', 'in-maintenance', 'partner-in-maintenance', HS],
  ['hot-standby', 'partner-down', 'waiting', HS],
  ['hot-standby', 'partner-in-maintenance', 'in-maintenance', HS],
  ['hot-standby', 'terminated', 'terminated', HS],
  ['hot-standby', 'unavailable', 'partner-down', { ...HS, interrupted: true, note: 'primary' }],
  ['hot-standby', 'unavailable', 'partner-down', { ...HS, ...SECONDARY, interrupted: true }],
  ['hot-standby', 'unavailable', 'stay', HS],
  ['hot-standby', 'hot-standby', 'stay', HS],
  ['hot-standby', 'load-balancing', 'waiting', { ...HS, note: 'invalid partner state' }],
  ['hot-standby', 'communication-recovery', 'waiting', { ...HS, note: 'invalid partner state' }],
]);

table('communication-recovery (§2.7)', [
  ['communication-recovery', 'in-maintenance', 'partner-in-maintenance'],
  ['communication-recovery', 'partner-down', 'waiting'],
  ['communication-recovery', 'partner-in-maintenance', 'in-maintenance'],
  ['communication-recovery', 'terminated', 'terminated'],
  ['communication-recovery', 'unavailable', 'partner-down', { interrupted: true }],
  ['communication-recovery', 'unavailable', 'stay'],
  ['communication-recovery', 'waiting', 'stay'],
  ['communication-recovery', 'syncing', 'stay'],
  ['communication-recovery', 'ready', 'stay'],
  ['communication-recovery', 'load-balancing', 'load-balancing', { note: 'empty backlog delivered' }],
  ['communication-recovery', 'communication-recovery', 'load-balancing'],
  ['communication-recovery', 'backup', 'waiting', { note: 'any other partner state' }],
  ['communication-recovery', 'hot-standby', 'waiting', { note: 'invalid partner state' }],
]);

table('partner-down (§2.8)', [
  ['partner-down', 'communication-recovery', 'waiting'],
  ['partner-down', 'partner-down', 'waiting'],
  ['partner-down', 'partner-in-maintenance', 'waiting'],
  ['partner-down', 'ready', 'load-balancing'],
  ['partner-down', 'ready', 'hot-standby', HS],
  ['partner-down', 'terminated', 'terminated'],
  ['partner-down', 'unavailable', 'stay', { interrupted: true }],
  ['partner-down', 'waiting', 'stay'],
  ['partner-down', 'syncing', 'stay'],
  ['partner-down', 'load-balancing', 'stay', { note: 'forces the partner to resync (kea#1959)' }],
  ['partner-down', 'hot-standby', 'stay', HS],
  ['partner-down', 'in-maintenance', 'stay'],
]);

table('partner-in-maintenance (§2.9)', [
  ['partner-in-maintenance', 'unavailable', 'partner-down', { note: 'immediately, not interrupted' }],
  ['partner-in-maintenance', 'in-maintenance', 'stay'],
  ['partner-in-maintenance', 'load-balancing', 'stay'],
  ['partner-in-maintenance', 'hot-standby', 'stay', { note: 'no partner-validity check' }],
]);

table('states with no automatic exit (§2.10)', [
  ['in-maintenance', 'unavailable', 'stay', { interrupted: true }],
  ['in-maintenance', 'partner-in-maintenance', 'stay'],
  ['passive-backup', 'unavailable', 'stay', { mode: 'passive-backup', interrupted: true }],
  ['backup', 'partner-down', 'stay', { me: 2 }],
  ['terminated', 'waiting', 'stay'],
  ['terminated', 'unavailable', 'stay', { interrupted: true }],
]);

test('partner-down: partner ready with new unsent updates → waiting', () => {
  const cfg = config();
  const r = step(modelIn('partner-down'), answered(100, 'ready', { unsent: 5 }), cfg);
  assert.deepEqual(transitions(r.outputs).slice(0, 1), ['waiting']);
});

test('partner-down: unchanged non-zero unsent count is not "new" → normal state', () => {
  const cfg = config();
  const first = step(modelIn('partner-down'), answered(100, 'waiting', { unsent: 5 }), cfg);
  const second = step(first.model, answered(200, 'ready', { unsent: 5 }), cfg);
  assert.deepEqual(transitions(second.outputs).slice(0, 1), ['load-balancing']);
});

test('waiting: partner seen terminated for 10 minutes → terminated; a moment less → stay (§2.3)', () => {
  const cfg = config();
  const model = modelIn('waiting', 'terminated');
  const early = step(model, answered(10 * 60_000 - 1, 'terminated'), cfg);
  assert.equal(early.model.state, 'waiting');
  assert.ok(early.outputs.some((o) => o.type === 'log' && o.msgId === 'HA_TERMINATED_RESTART_PARTNER'));
  const late = step(early.model, answered(10 * 60_000, 'terminated'), cfg);
  assert.deepEqual(transitions(late.outputs), ['terminated']);
});

test('waiting: the 10 minutes count from the last change of the recorded partner state', () => {
  const cfg = config();
  let m = modelIn('waiting', 'terminated');
  m = step(m, answered(5 * 60_000 - 100, 'terminated'), cfg).model;
  m = step(m, failed(5 * 60_000), cfg).model; // partner briefly unavailable in between
  assert.equal(m.state, 'waiting');
  m = step(m, answered(5 * 60_000 + 1000, 'terminated'), cfg).model;
  const r = step(m, answered(10 * 60_000 + 500, 'terminated'), cfg);
  assert.equal(r.model.state, 'waiting');
});
