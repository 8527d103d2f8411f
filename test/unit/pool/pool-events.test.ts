import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commit } from '../../../src/hook-libs/pool/model/database.ts';
import { appendEvents, emptyEvents, eventsFor, eventsSince, parseClasses } from '../../../src/hook-libs/pool/model/events.ts';
import { vmCreate, vmSetOrder } from '../../../src/hook-libs/pool/model/operations.ts';
import { CommandError } from '../../../src/core/errors.ts';
import { labDb } from './fixtures.ts';

test('event.from with an empty token returns every object as add; then only newer changes, token = generation', () => {
  let db = labDb();
  let buf = emptyEvents(db.generation, 100);
  const all = eventsSince(db, buf, parseClasses(['*']), '', 0);
  assert.equal(all.events.length, 7);
  assert.equal(all.token, '1');
  const vm = vmCreate({ name_label: 'a', memory_static_max: 1 }, 'v1');
  const r = commit(db, vm.changes);
  db = r.db;
  buf = appendEvents(buf, eventsFor(db, vm.changes, db.generation, 0));
  const next = eventsSince(db, buf, parseClasses(['VM']), all.token, 0);
  assert.deepEqual(next.events.map((e) => [e.class, e.ref, e.operation]), [['vm', vm.ref, 'add']]);
  assert.equal(next.token, '2');
  assert.deepEqual(eventsSince(db, buf, parseClasses(['host']), all.token, 0).events, [], 'other classes are filtered out');
  assert.deepEqual(eventsSince(db, buf, parseClasses(['VM']), next.token, 0).events, []);
});

test('a token older than the buffer gives EVENTS_LOST; a malformed token gives INVALID_VALUE', () => {
  let db = labDb();
  let buf = emptyEvents(db.generation, 2);
  for (let i = 0; i < 2; i++) {
    const vm = vmCreate({ name_label: `v${i}`, memory_static_max: 1 }, `v${i}`);
    db = commit(db, vm.changes).db;
    buf = appendEvents(buf, eventsFor(db, vm.changes, db.generation, 0));
    const ch = vmSetOrder(db, vm.ref, 1);
    db = commit(db, ch).db;
    buf = appendEvents(buf, eventsFor(db, ch, db.generation, 0));
  }
  assert.throws(() => eventsSince(db, buf, parseClasses(['VM']), '1', 0), (e: unknown) => e instanceof CommandError && e.errorName === 'EVENTS_LOST');
  assert.equal(eventsSince(db, buf, parseClasses(['VM']), '3', 0).events.length, 2);
  assert.throws(() => eventsSince(db, buf, parseClasses(['VM']), 'abc', 0), (e: unknown) => e instanceof CommandError && e.errorName === 'INVALID_VALUE');
});
