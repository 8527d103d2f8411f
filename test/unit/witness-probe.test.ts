// The core's ha-witness-probe: heartbeat the target for the caller, report what came back, and
// fence a target that did not answer against its own probes for fence-ms.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock } from '../../src/core/clock.ts';
import { CommandError } from '../../src/core/errors.ts';
import { PeerUnreachableError } from '../../src/core/hooks/hook-library.ts';
import { WitnessDesk, type PeerCall } from '../../src/core/witness-probe.ts';

function fakeClock(): Clock & { now: number } {
  const c = { now: 1000, monotonicMs: () => c.now, wallMs: () => c.now, setTimer: () => ({ cancel: () => undefined }) };
  return c;
}

test('reached: the target answered; its heartbeat arguments come back', async () => {
  const clock = fakeClock();
  const calls: unknown[] = [];
  const call: PeerCall = async (peer, command, args, timeoutMs) => {
    calls.push([peer, command, args, timeoutMs]);
    clock.now += 7;
    return { result: 0, text: 'HA peer status returned.', arguments: { state: 'load-balancing', scopes: ['server2'] } };
  };
  const a = await new WitnessDesk(clock).probe({ url: 'http://127.0.0.1:1/', 'server-name': 'server2', caller: 'server1', 'timeout-ms': 300, 'basic-auth-user': 'u', 'basic-auth-password': 'p' }, call);
  assert.equal(a.result, 0);
  assert.deepEqual(a.arguments, { reached: true, 'server-name': 'server2', 'elapsed-ms': 7, result: 0, text: 'HA peer status returned.', heartbeat: { state: 'load-balancing', scopes: ['server2'] } });
  assert.deepEqual(calls, [[{ name: 'server2', url: 'http://127.0.0.1:1/', auth: { user: 'u', password: 'p' } }, 'ha-heartbeat', { 'server-name': 'server2' }, 300]]);
});

test('not reached: the reason comes back; with fence-ms the target is refused as a caller until it ends', async () => {
  const clock = fakeClock();
  const desk = new WitnessDesk(clock);
  const down: PeerCall = async (peer) => {
    throw new PeerUnreachableError(peer.name, 'ECONNREFUSED');
  };
  const a = await desk.probe({ url: 'http://127.0.0.1:2/', 'server-name': 'server2', caller: 'server1', 'fence-ms': 500 }, down);
  assert.deepEqual(a.arguments, { reached: false, 'server-name': 'server2', 'elapsed-ms': 0, reason: 'ECONNREFUSED' });
  assert.deepEqual(desk.describe(), { server2: 500 });
  const up: PeerCall = async () => ({ result: 0, arguments: {} });
  await assert.rejects(desk.probe({ url: 'http://127.0.0.1:1/', 'server-name': 'server1', caller: 'server2' }, up), (e: unknown) => e instanceof CommandError && e.errorName === 'WITNESS_FENCED');
  const other = await desk.probe({ url: 'http://127.0.0.1:1/', 'server-name': 'server1', caller: 'server3' }, up);
  assert.equal((other.arguments as { reached: boolean }).reached, true, 'other callers are not fenced');
  clock.now += 501;
  const later = await desk.probe({ url: 'http://127.0.0.1:1/', 'server-name': 'server1', caller: 'server2' }, up);
  assert.equal(later.result, 0, 'the fence ends');
  assert.deepEqual(desk.describe(), {});
});

test('without fence-ms nothing is fenced; other errors are not swallowed', async () => {
  const desk = new WitnessDesk(fakeClock());
  await desk.probe({ url: 'http://127.0.0.1:2/', 'server-name': 'server2' }, async (p) => {
    throw new PeerUnreachableError(p.name, 'timeout');
  });
  assert.deepEqual(desk.describe(), {});
  await assert.rejects(desk.probe({ url: 'http://127.0.0.1:2/', 'server-name': 'server2' }, async () => {
    throw new TypeError('bug');
  }), TypeError);
});
