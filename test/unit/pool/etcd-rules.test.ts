import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { etcdVerdict, leaseGoneAction, type PeerView } from '../../../src/hook-libs/pool/etcd/etcd-rules.ts';

const base = { heartbeatTimeoutMs: 3000, slackMs: 200, minRunMs: 500 };

test('etcd survival rule', { timeout: 30_000 }, async (t) => {
  await t.test('a host holding its lease is fine, whatever it hears', () => {
    assert.deepEqual(etcdVerdict({ ...base, leaseHeld: true, ownFailures: [], peers: [], now: 10_000 }), { kind: 'ok' });
  });

  await t.test('no lease and no peer heard within T: isolated, it fences', () => {
    const peers: PeerView[] = [{ uuid: 'b', heardAt: 1000, etcdOkAt: 900 }];
    const v = etcdVerdict({ ...base, leaseHeld: false, ownFailures: [5000, 5250], peers, now: 5000 + 3000 });
    assert.equal(v.kind, 'fence');
    assert.match((v as { reason: string }).reason, /hears no other host/);
  });

  await t.test('cut off alone: a peer reached etcd between two of its own failed attempts → fence, naming the peer', () => {
    const own = [9_750, 10_000, 10_250, 10_500, 10_750, 11_000, 11_250];
    const peers: PeerView[] = [{ uuid: 'b', heardAt: 11_100, etcdOkAt: 10_400 }, { uuid: 'c', heardAt: 11_050, etcdOkAt: 9_000 }];
    const v = etcdVerdict({ ...base, leaseHeld: false, ownFailures: own, peers, now: 11_300 });
    assert.equal(v.kind, 'fence');
    assert.match((v as { reason: string }).reason, /while b still reached etcd/);
  });

  await t.test('etcd lost its majority: every peer last reached it before this host began failing → outage, nobody fences', () => {
    const own = [10_050, 10_300, 10_550, 10_800];
    const peers: PeerView[] = [{ uuid: 'b', heardAt: 10_900, etcdOkAt: 10_010 }, { uuid: 'c', heardAt: 10_850, etcdOkAt: 9_800 }];
    const v = etcdVerdict({ ...base, leaseHeld: false, ownFailures: own, peers, now: 10_900 });
    assert.equal(v.kind, 'outage');
  });

  await t.test('etcd returns: a peer reached it first, but no own attempt has failed since → no fence yet', () => {
    const own = [10_000, 10_250, 10_500];
    const peers: PeerView[] = [{ uuid: 'b', heardAt: 10_700, etcdOkAt: 10_600 }];
    assert.equal(etcdVerdict({ ...base, leaseHeld: false, ownFailures: own, peers, now: 10_700 }).kind, 'outage');
    // One more failure soon after (a member still electing, a client still reconnecting) proves nothing…
    assert.equal(etcdVerdict({ ...base, leaseHeld: false, ownFailures: [...own, 10_850], peers, now: 10_900 }).kind, 'outage');
    // …but failing on for minRunMs after the peer got through makes this host the one cut off.
    assert.equal(etcdVerdict({ ...base, leaseHeld: false, ownFailures: [...own, 10_850, 11_100], peers, now: 11_150 }).kind, 'fence');
  });

  await t.test('one unlucky failure just before etcd goes down for everyone is not taken for being cut off', () => {
    // This host's call failed at 28.7 s (a dead member picked first); a peer still succeeded at
    // 28.9 s; then etcd lost its majority and everything fails.
    const own = [28_700, 29_400, 29_650, 29_900];
    const peers: PeerView[] = [{ uuid: 'b', heardAt: 30_000, etcdOkAt: 28_900 }];
    assert.equal(etcdVerdict({ ...base, leaseHeld: false, ownFailures: own, peers, now: 30_000 }).kind, 'outage');
  });

  await t.test('a peer that left (not heard within T) does not count', () => {
    const peers: PeerView[] = [{ uuid: 'b', heardAt: 1000, etcdOkAt: 10_600 }, { uuid: 'c', heardAt: 10_900, etcdOkAt: 9_000 }];
    assert.equal(etcdVerdict({ ...base, leaseHeld: false, ownFailures: [10_000, 11_000], peers, now: 11_000 }).kind, 'outage');
  });

  await t.test('property: when etcd fails for everyone at once, no host fences while it still hears a peer', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100_000 }), // the moment etcd lost its majority
        fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 6 }), // how long before it each peer last succeeded
        fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 1, maxLength: 20 }), // own failed attempts after it
        fc.integer({ min: 0, max: 2000 }),
        (lossAt, ages, failOffsets, heardAgo) => {
          const peers = ages.map((a, i) => ({ uuid: `p${i}`, heardAt: lossAt + 3000 - heardAgo, etcdOkAt: lossAt - a }));
          const own = failOffsets.map((o) => lossAt + o).sort((a, b) => a - b);
          const v = etcdVerdict({ ...base, leaseHeld: false, ownFailures: own, peers, now: lossAt + 3000 });
          assert.notEqual(v.kind, 'fence', JSON.stringify(v));
        },
      ),
      { numRuns: 2000 },
    );
  });

  await t.test('property: when etcd comes back, a host whose attempts fail for less than minRunMs after a peer got through does not fence', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 10_000, max: 100_000 }), // the moment a peer first got through again
        fc.array(fc.integer({ min: 0, max: 20_000 }), { minLength: 1, maxLength: 20 }), // own failures during the outage, before it
        fc.array(fc.integer({ min: 0, max: base.minRunMs - 1 }), { maxLength: 5 }), // own failures just after it
        (backAt, before, after) => {
          const own = [...before.map((b) => backAt - b), ...after.map((a) => backAt + a)].sort((a, b) => a - b);
          const peers = [{ uuid: 'b', heardAt: backAt + 100, etcdOkAt: backAt }];
          const v = etcdVerdict({ ...base, leaseHeld: false, ownFailures: own, peers, now: backAt + base.minRunMs });
          assert.notEqual(v.kind, 'fence', JSON.stringify(v));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

test('etcd says the lease is gone: fence, unless it expired in an outage', { timeout: 30_000 }, async (t) => {
  const own = [10_050, 10_300, 10_550, 10_800];
  await t.test('judged an outage for everyone and failing since: a new lease, no fence', () => {
    const verdict = etcdVerdict({ ...base, leaseHeld: false, ownFailures: own, peers: [{ uuid: 'b', heardAt: 10_900, etcdOkAt: 10_010 }], now: 10_900 });
    assert.equal(verdict.kind, 'outage');
    const a = leaseGoneAction(verdict, own, 'etcd says the lease expired');
    assert.equal(a.kind, 'renew');
    assert.match(a.reason, /^etcd says the lease expired: it expired while etcd had no majority/);
  });

  await t.test('cut off alone while a peer got through: fence, naming the peer', () => {
    const longRun = [9_750, 10_000, 10_250, 10_500, 10_750, 11_000, 11_250];
    const verdict = etcdVerdict({ ...base, leaseHeld: false, ownFailures: longRun, peers: [{ uuid: 'b', heardAt: 11_100, etcdOkAt: 10_400 }], now: 11_300 });
    const a = leaseGoneAction(verdict, longRun, 'etcd says the lease no longer exists');
    assert.deepEqual(a.kind, 'fence');
    assert.match(a.reason, /while b still reached etcd/);
  });

  await t.test('no failed attempt of its own (etcd answered all along) yet the lease is gone: the pool dropped it, fence', () => {
    const verdict = etcdVerdict({ ...base, leaseHeld: false, ownFailures: [], peers: [{ uuid: 'b', heardAt: 10_900, etcdOkAt: 10_800 }], now: 10_900 });
    assert.equal(verdict.kind, 'outage');
    const a = leaseGoneAction(verdict, [], 'etcd says the lease expired');
    assert.equal(a.kind, 'fence');
    assert.match(a.reason, /the other hosts have treated this host as dead/);
  });

  await t.test('lease still held by the local guard when etcd says it is gone: fence', () => {
    assert.equal(leaseGoneAction({ kind: 'ok' }, own, 'etcd says the lease expired').kind, 'fence');
  });
});
