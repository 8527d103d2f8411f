// xhad's pure decisions (spec/xapi-ha.md §4.3, §8, §9.1) under a fake clock: derived timeouts,
// survival rules and partition scores, the join rules, the master lock, fence-loop protection, and
// a property test that no sequence of partitions, statefile losses, kills and restarts ever lets
// two hosts act as master at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { baseTimeoutOf, deriveTimeouts } from '../../../src/hook-libs/pool/ha/timeouts.ts';
import { splitSurvivor } from '../../../src/hook-libs/pool/ha/xhad/xhad-machine.ts';
import { decodeSlot, encodeSlot, BLOCK } from '../../../src/hook-libs/pool/ha/xhad/statefile-format.ts';
import { fenceLoopVerdict, recordFence } from '../../../src/hook-libs/pool/ha/fence-guard.ts';
import { World } from './ha-world.ts';

// Host ids sort as their names: a < b < c (lowest "UUID" first).
const formed = (ids = ['a', 'b', 'c']): World => {
  const w = new World(ids);
  w.run(3000);
  for (const h of w.hosts) assert.equal(h.st.mode, 'online', `${h.id} joined`);
  assert.deepEqual(w.masters(), ['a'], 'the enabling master (a) holds the lock');
  return w;
};

test('timeouts follow xapi from T = 10 s up, and scale below (testing only)', () => {
  const t60 = deriveTimeouts(60_000);
  assert.deepEqual([t60.heartbeatIntervalMs, t60.statefileIntervalMs, t60.heartbeatWatchdogMs, t60.statefileWatchdogMs, t60.bootJoinMs, t60.enableJoinMs], [3000, 3000, 60_000, 75_000, 120_000, 120_000]);
  const t30 = deriveTimeouts(30_000);
  assert.deepEqual([t30.heartbeatIntervalMs, t30.statefileIntervalMs, t30.statefileWatchdogMs, t30.enableJoinMs], [3000, 2000, 45_000, 90_000]);
  const t10 = deriveTimeouts(10_000);
  assert.deepEqual([t10.heartbeatIntervalMs, t10.statefileIntervalMs], [2000, 2000]);
  const t4 = deriveTimeouts(4000);
  assert.deepEqual([t4.heartbeatIntervalMs, t4.statefileIntervalMs, t4.heartbeatTimeoutMs, t4.enableJoinMs], [800, 800, 4000, 28_000]);
  for (const t of [t60, t30, t10, t4]) assert.ok(t.leaseMs < t.heartbeatTimeoutMs && t.leaseMs > 2 * Math.max(t.heartbeatIntervalMs, t.statefileIntervalMs));
  assert.deepEqual(baseTimeoutOf({}, {}, false), { ms: 60_000 });
  assert.deepEqual(baseTimeoutOf({}, { default_ha_timeout: '30' }, false), { ms: 30_000 });
  assert.ok('error' in baseTimeoutOf({ timeout: '5' }, {}, false), 'below 10 s outside testing');
  assert.deepEqual(baseTimeoutOf({ timeout: '5' }, {}, true), { ms: 5000 });
  assert.ok('error' in baseTimeoutOf({ timeout: 'x' }, {}, true));
  // Beyond a day every derived timer would overflow node's setTimeout: refused, naming the bound.
  assert.deepEqual(baseTimeoutOf({ timeout: '86400' }, {}, false), { ms: 86_400_000 });
  assert.deepEqual(baseTimeoutOf({ timeout: '1e12' }, {}, false), { error: 'timeout must be at most 86400 s (one day)', value: '1e12' });
});

test('statefile slots round-trip in one block; a torn block reads as absent', () => {
  const hosts = ['a', 'b', 'c'];
  const slot = { host: 'b', generation: 'g', seq: 7, state: 'online' as const, hb: ['a', 'b'], sf: ['a', 'b', 'c'], liveset: ['a', 'b', 'c'], requesting: true, grant: 'a' };
  const bytes = encodeSlot(hosts, slot);
  assert.equal(bytes.length, BLOCK);
  assert.deepEqual(decodeSlot(hosts, bytes), slot);
  const torn = bytes.slice();
  torn[20] = 0x7a;
  assert.equal(decodeSlot(hosts, torn), undefined);
});

test('enable: every host must be on the network and the statefile; the enabling master takes the lock', () => {
  const w = new World(['a', 'b', 'c']);
  w.cutLink('a', 'c');
  w.run(5000);
  assert.ok(['a', 'c'].every((h) => w.host(h).st.mode === 'joining'), 'a and c do not join while they cannot hear each other');
  assert.deepEqual(w.masters(), [], 'nobody holds the lock');
  w.heal();
  w.run(3000);
  assert.deepEqual(w.masters(), ['a']);
});

test('kill the master: the lowest surviving host holds the lock within T + a few ticks', () => {
  const w = formed();
  w.kill('a');
  const killed = w.now;
  while (w.masters().length === 0 && w.now - killed < 20_000) w.tick();
  assert.deepEqual(w.masters(), ['b']);
  assert.ok(w.now - killed <= w.t.baseMs + 4 * w.t.tickMs, `took ${w.now - killed} ms`);
  assert.ok(w.running().every((h) => h.st.holder === 'b'));
});

test('two hosts, link cut, statefile fine: the lower UUID survives whichever is master', () => {
  for (const [masterFirst, crash] of [['a', false], ['b', false], ['a', true], ['b', true]] as const) {
    const w = new World(masterFirst === 'a' ? ['a', 'b'] : ['b', 'a']);
    w.crashOnFence = crash;
    w.run(3000);
    assert.deepEqual(w.masters(), [masterFirst]);
    w.cutLink('a', 'b');
    w.run(3 * w.t.baseMs);
    assert.equal(w.host('b').fenced !== undefined, true, 'b fences');
    assert.equal(w.host('a').fenced, undefined, 'a survives');
    assert.deepEqual(w.masters(), ['a']);
    assert.deepEqual(splitSurvivor(['b', 'a'])?.survivor, 'a');
  }
});

test('three hosts, one isolated: it fences; the other two drop it only after it stopped', () => {
  const w = formed();
  w.isolate('a');
  let fencedAt: number | undefined;
  let droppedAt: number | undefined;
  for (let i = 0; i < 200; i++) {
    w.tick();
    if (fencedAt === undefined && w.host('a').fenced) fencedAt = w.now;
    if (droppedAt === undefined && !w.host('b').st.liveset.includes('a')) droppedAt = w.now;
  }
  assert.ok(fencedAt !== undefined && droppedAt !== undefined && fencedAt <= droppedAt, `fenced ${fencedAt}, dropped ${droppedAt}`);
  assert.deepEqual(w.masters(), ['b']);
  assert.deepEqual(w.host('c').st.liveset, ['b', 'c']);
});

test('statefile lost on every host, network fine: nobody fences (rule 2); lost on one host only: that host fences', () => {
  const w = formed();
  for (const h of ['a', 'b', 'c']) w.noStatefile.add(h);
  w.run(4 * w.t.baseMs);
  assert.equal(w.running().length, 3, 'nobody fenced');
  assert.ok(w.hosts.every((h) => h.decisions.some((d) => d.kind === 'statefile-lost')));
  assert.deepEqual(w.masters(), ['a'], 'the master stays master on rule 2');
  w.heal();
  w.run(2000);
  const w2 = formed();
  w2.noStatefile.add('c');
  w2.run(3 * w2.t.baseMs);
  assert.ok(w2.host('c').fenced, 'c fenced');
  assert.equal(w2.running().length, 2);
  assert.deepEqual(w2.host('a').st.liveset, ['a', 'b']);
});

test('a restarted host rejoins without unseating the lock holder', () => {
  const w = formed();
  w.kill('b');
  w.run(2 * w.t.baseMs);
  assert.deepEqual(w.host('a').st.liveset, ['a', 'c']);
  w.restart('b');
  w.run(3 * w.t.baseMs);
  assert.equal(w.host('b').st.mode, 'online');
  assert.deepEqual(w.host('a').st.liveset, ['a', 'b', 'c']);
  assert.deepEqual(w.masters(), ['a']);
});

test('fence-loop protection: N fences within the window keep HA disarmed at start', () => {
  const policy = { count: 3, windowMs: 60_000 };
  let f: number[] = [];
  for (const at of [1000, 2000]) f = recordFence(f, at, policy);
  assert.equal(fenceLoopVerdict(f, 3000, policy).loop, false);
  f = recordFence(f, 3000, policy);
  assert.equal(fenceLoopVerdict(f, 4000, policy).loop, true);
  assert.equal(fenceLoopVerdict(f, 70_000, policy).loop, false, 'the window passed');
});

test('property: never two hosts acting as master, whatever fails and in what order hosts run', { timeout: 120_000 }, () => {
  const ids = ['a', 'b', 'c', 'd'];
  const event = fc.oneof(
    fc.record({ kind: fc.constant('cut' as const), x: fc.integer({ min: 0, max: 3 }), y: fc.integer({ min: 0, max: 3 }) }),
    fc.record({ kind: fc.constant('isolate' as const), x: fc.integer({ min: 0, max: 3 }) }),
    fc.record({ kind: fc.constant('kill' as const), x: fc.integer({ min: 0, max: 3 }) }),
    fc.record({ kind: fc.constant('restart' as const), x: fc.integer({ min: 0, max: 3 }) }),
    fc.record({ kind: fc.constant('statefile' as const), x: fc.integer({ min: 0, max: 3 }) }),
    fc.record({ kind: fc.constant('heal' as const) }),
  );
  fc.assert(fc.property(
    fc.array(fc.record({ e: event, wait: fc.integer({ min: 1, max: 40 }) }), { minLength: 1, maxLength: 12 }),
    fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 4, maxLength: 4 }),
    fc.boolean(),
    (events, order, crash) => {
      const w = new World(ids);
      w.crashOnFence = crash;
      w.run(3000);
      for (const { e, wait } of events) {
        const id = (i: number) => ids[i] as string;
        if (e.kind === 'cut' && e.x !== e.y) w.cutLink(id(e.x), id(e.y));
        if (e.kind === 'isolate') w.isolate(id(e.x));
        if (e.kind === 'kill') w.kill(id(e.x));
        if (e.kind === 'restart' && !w.running().some((h) => h.id === id(e.x))) w.restart(id(e.x));
        if (e.kind === 'statefile') w.noStatefile.add(id(e.x));
        if (e.kind === 'heal') w.heal();
        for (let i = 0; i < wait; i++) {
          w.tick(order);
          const m = w.masters();
          if (m.length > 1) throw new Error(`two masters at ${w.now} ms: ${m.join(', ')}`);
        }
      }
    },
  ), { seed: 20261203, numRuns: 150 });
});
