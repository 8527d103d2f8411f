import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commit, isLive } from '../../../src/hook-libs/pool/model/database.ts';
import { emptyLiveness, recordHeartbeat, sweep, type LivenessTable } from '../../../src/hook-libs/pool/model/liveness.ts';
import { heartbeat } from '../../../src/hook-libs/pool/model/operations.ts';
import type { Database } from '../../../src/hook-libs/pool/model/records.ts';
import { H1, H2, H3, labDb } from './fixtures.ts';

const DEAD = 600_000; // xapi's host_assumed_dead_interval

/** A master's view driven by a fake clock: heartbeats and sweeps as a protocol trace. */
class Master {
  db: Database = labDb();
  table: LivenessTable = emptyLiveness();
  now = 0;
  tick(ms: number): this {
    this.now += ms;
    const r = sweep(this.db, this.table, H1, this.now, DEAD);
    this.table = r.table;
    this.db = commit(this.db, r.changes).db;
    return this;
  }
  beat(host: string, shuttingDown = false): this {
    this.table = recordHeartbeat(this.table, host, this.now, shuttingDown);
    this.db = commit(this.db, heartbeat(this.db, host, 1_700_000_000_000 + this.now, shuttingDown)).db;
    return this;
  }
}

test('a heartbeat makes a host live at once; silence for the assumed-dead interval makes it not live', () => {
  const m = new Master();
  m.beat(H2);
  assert.equal(isLive(m.db, H2), true);
  m.tick(DEAD - 1);
  assert.equal(isLive(m.db, H2), true, 'still live one ms before the interval ends');
  m.tick(1);
  assert.equal(isLive(m.db, H2), false);
  m.beat(H2);
  assert.equal(isLive(m.db, H2), true, 'live again on the next heartbeat');
});

test('the master is never swept, and hosts it has not heard from get a fresh timer (xapi db_gc)', () => {
  const m = new Master();
  m.db = commit(m.db, heartbeat(m.db, H3, 0, false)).db; // live before this master's table knew it
  m.tick(1);
  assert.equal(isLive(m.db, H3), true);
  assert.equal(isLive(m.db, H2), false, 'a host that never heartbeated is not made live by a sweep');
  m.tick(DEAD - 1);
  assert.equal(isLive(m.db, H3), true);
  m.tick(1);
  assert.equal(isLive(m.db, H3), false);
  m.tick(10 * DEAD);
  assert.equal(isLive(m.db, H1), true);
});

test('a shutting-down heartbeat marks the host dead and sweeps do not revive it', () => {
  const m = new Master();
  m.beat(H2).tick(1000);
  m.beat(H2, true);
  assert.equal(isLive(m.db, H2), false);
  m.tick(1000);
  assert.equal(isLive(m.db, H2), false);
});

test('sweep reports which hosts died', () => {
  const m = new Master();
  m.beat(H2);
  m.tick(100);
  m.beat(H3);
  m.now = DEAD;
  const r = sweep(m.db, m.table, H1, m.now, DEAD);
  assert.deepEqual(r.died, [H2]);
});

test('soft state: a heartbeat from a live host changes nothing durable; only a change of live does', () => {
  const m = new Master();
  assert.equal(heartbeat(m.db, H2, 1_700_000_000_000, false).length, 1, 'the heartbeat that makes a host live is a change');
  m.beat(H2);
  m.tick(1000).beat(H2).tick(1000).beat(H2);
  assert.deepEqual(heartbeat(m.db, H2, 1_700_000_002_000, false), [], 'steady heartbeats write nothing');
  assert.equal(m.table.get(H2)?.lastHeartbeatAt, 2000, 'the time is kept in the liveness table');
  assert.equal(heartbeat(m.db, H2, 1_700_000_002_000, true).length, 1, 'a shutting-down heartbeat is a change');
});

test('a host marked not live gets its last heartbeat\'s wall time; one never heard since the master started does not', () => {
  const wall0 = 1_700_000_000_000;
  const m = new Master();
  m.db = commit(m.db, heartbeat(m.db, H3, wall0, false)).db; // live before this master's table knew it
  m.beat(H2); // wall0 in the fixture's clock
  m.tick(500).beat(H2); // last heard at 500
  m.now = 500 + DEAD; // H3's timer, seeded by the first sweep at 500, runs out too
  const r = sweep(m.db, m.table, H1, m.now, DEAD, wall0 + m.now);
  assert.deepEqual(r.died, [H2, H3]);
  assert.deepEqual(
    r.changes.map((c) => (c.op === 'mod' ? c.fields : undefined)),
    [{ live: false, last_updated: new Date(wall0 + 500).toISOString() }, { live: false }],
    'H3 was never heard by this master: its durable last_updated stays',
  );
});
