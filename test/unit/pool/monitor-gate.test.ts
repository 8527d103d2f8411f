import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { monitorGate, type MonitorGateInput } from '../../../src/hook-libs/pool/ha/monitor-gate.ts';

const base: MonitorGateInput = { now: 100_000, transitionAt: undefined, waitingForRejoin: 0, outageEndedAt: undefined, enableJoinMs: 40_000, heartbeatTimeoutMs: 4_000 };

test('master monitor gate: when the restart pass may declare hosts dead', { timeout: 30_000 }, async (t) => {
  await t.test('a master since the start, no outage: the pass runs', () => {
    assert.deepEqual(monitorGate(base), { kind: 'pass' });
  });

  await t.test('after a master change it waits for the live hosts to rejoin, at most the enable-join timeout', () => {
    assert.deepEqual(monitorGate({ ...base, transitionAt: 99_000, waitingForRejoin: 2 }), { kind: 'wait', why: 'rejoin' });
    assert.deepEqual(monitorGate({ ...base, transitionAt: 99_000, waitingForRejoin: 0 }), { kind: 'pass' });
    assert.deepEqual(monitorGate({ ...base, transitionAt: 100_000 - 40_000, waitingForRejoin: 2 }), { kind: 'pass' });
  });

  await t.test('after an etcd majority outage it waits T: a host whose lease etcd revoked on its return is renewing, not dead', () => {
    assert.deepEqual(monitorGate({ ...base, outageEndedAt: 99_500 }), { kind: 'wait', why: 'outage' });
    assert.deepEqual(monitorGate({ ...base, outageEndedAt: 100_000 - 3_999 }), { kind: 'wait', why: 'outage' });
    assert.deepEqual(monitorGate({ ...base, outageEndedAt: 100_000 - 4_000 }), { kind: 'pass' });
  });

  await t.test('property: it never holds restarts back for longer than max(enable-join, T) after the later of the two events', () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 200_000 }), fc.option(fc.integer({ min: 0, max: 200_000 }), { nil: undefined }),
      fc.nat(8), fc.option(fc.integer({ min: 0, max: 200_000 }), { nil: undefined }),
      (now, transitionAt, waitingForRejoin, outageEndedAt) => {
        const i = { ...base, now, transitionAt, waitingForRejoin, outageEndedAt };
        const last = Math.max(transitionAt ?? -Infinity, outageEndedAt ?? -Infinity);
        if (now - last >= Math.max(i.enableJoinMs, i.heartbeatTimeoutMs)) assert.deepEqual(monitorGate(i), { kind: 'pass' });
      },
    ), { seed: 42, numRuns: 2000 });
  });
});
