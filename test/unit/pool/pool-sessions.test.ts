import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionTable } from '../../../src/hook-libs/pool/sessions.ts';
import { CommandError } from '../../../src/core/errors.ts';

/** A session table on a hand-moved clock, recording the sessions its limits end. */
function table(maxPerUser: number, idleMs: number) {
  let now = 0;
  let next = 0;
  const ended: [string, string, string][] = [];
  const t = new SessionTable(() => String(++next), () => now, () => ({ maxPerUser, idleMs }), (ref, user, why) => ended.push([ref, user, why]));
  return { t, ended, advance: (ms: number) => (now += ms) };
}

const invalid = (ref: string) => (err: unknown) => err instanceof CommandError && err.errorName === 'SESSION_INVALID' && err.params[0] === ref;

test('a login beyond max-per-user ends that user\'s least recently used session, not another user\'s', () => {
  const { t, ended, advance } = table(2, 60_000);
  const a = t.open('root', false);
  advance(10);
  const b = t.open('root', false);
  const other = t.open('ops', false);
  advance(10);
  t.assert(a); // a is now more recent than b
  const c = t.open('root', false);
  assert.deepEqual(ended, [[b, 'root', 'evicted']]);
  assert.throws(() => t.assert(b), invalid(b));
  t.assert(a);
  t.assert(c);
  t.assert(other);
  assert.equal(t.size, 3);
});

test('a session unused for longer than idle-timeout expires; each use keeps it alive', () => {
  const { t, ended, advance } = table(10, 1000);
  const kept = t.open('root', false);
  const idle = t.open('root', false);
  for (let i = 0; i < 5; i++) {
    advance(600);
    t.assert(kept);
  }
  assert.throws(() => t.assert(idle), invalid(idle));
  assert.deepEqual(ended, [[idle, 'root', 'expired']]);
  // Sessions nobody asks about again are swept at the next login, so the table does not grow.
  advance(1001);
  t.open('ops', false);
  assert.equal(t.size, 1);
  assert.deepEqual(ended.map((e) => e[2]), ['expired', 'expired']);
});
