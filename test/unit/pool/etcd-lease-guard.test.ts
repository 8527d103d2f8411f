import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LeaseGuard } from '../../../src/hook-libs/pool/etcd/lease-guard.ts';

test('etcd lease guard', { timeout: 30_000 }, async (t) => {
  await t.test('holds from a successful keepalive until its send time + TTL - margin', () => {
    const g = new LeaseGuard({ ttlMs: 3000, marginMs: 500 });
    assert.equal(g.state(0), 'none');
    g.succeeded(1000, 3);
    assert.equal(g.state(1000), 'held');
    assert.equal(g.state(3499), 'held');
    assert.equal(g.state(3500), 'lost');
    assert.equal(g.safeUntil(), 3500);
  });

  await t.test('a late answer to an older keepalive never moves the window back', () => {
    const g = new LeaseGuard({ ttlMs: 3000, marginMs: 500 });
    g.succeeded(2000, 3);
    g.succeeded(1000, 3);
    assert.equal(g.safeUntil(), 4500);
  });

  await t.test('etcd saying TTL 0 or lease gone ends the window at once; a new lease starts from none', () => {
    const g = new LeaseGuard({ ttlMs: 3000 });
    g.succeeded(0, 3);
    g.succeeded(100, 0);
    assert.equal(g.state(101), 'lost');
    g.reset();
    assert.equal(g.state(200), 'none');
    g.succeeded(200, 3);
    g.lost();
    assert.equal(g.state(201), 'lost');
  });

  await t.test('refuses TTLs etcd clients cannot keep and margins that leave no window', () => {
    assert.throws(() => new LeaseGuard({ ttlMs: 500 }), /at least 1 s/);
    assert.throws(() => new LeaseGuard({ ttlMs: 2000, marginMs: 2000 }), /smaller than the TTL/);
    assert.equal(new LeaseGuard({ ttlMs: 6000 }).marginMs, 1000);
    assert.equal(new LeaseGuard({ ttlMs: 1000 }).marginMs, 200);
  });

  await t.test('property: the guard never says held at or after the server-side expiry bound', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.array(fc.record({ sentAt: fc.integer({ min: 0, max: 100_000 }), rtt: fc.integer({ min: 0, max: 5000 }), ok: fc.boolean() }), { maxLength: 40 }),
        fc.integer({ min: 0, max: 200_000 }),
        (ttlS, keepalives, now) => {
          const g = new LeaseGuard({ ttlMs: ttlS * 1000 });
          // The server extends the lease at receipt (sentAt + rtt/2); expiry is the latest receipt + TTL.
          let serverExpiry = -Infinity;
          for (const k of keepalives) {
            if (!k.ok) continue;
            g.succeeded(k.sentAt, ttlS);
            serverExpiry = Math.max(serverExpiry, k.sentAt + k.rtt / 2 + ttlS * 1000);
          }
          if (g.state(now) === 'held') assert.ok(now < serverExpiry, `held at ${now} but the server expires the lease at ${serverExpiry}`);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
