import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../../src/core/clock.ts';

test('systemClock.setTimer: a delay beyond 2^31 - 1 ms waits it out instead of firing at once; cancel works at every step', { timeout: 10_000 }, (t) => {
  mock.timers.enable({ apis: ['setTimeout'] });
  t.after(() => mock.timers.reset());
  const MAX = 2_147_483_647;
  let fired = 0;
  systemClock.setTimer(MAX + 5_000, () => fired++);
  mock.timers.tick(1);
  assert.equal(fired, 0, 'node alone would fire an overflowing delay after 1 ms');
  mock.timers.tick(MAX);
  assert.equal(fired, 0);
  mock.timers.tick(5_000);
  assert.equal(fired, 1);

  let cancelled = 0;
  const timer = systemClock.setTimer(2 * MAX + 10, () => cancelled++);
  mock.timers.tick(MAX + 1);
  timer.cancel();
  mock.timers.tick(2 * MAX);
  assert.equal(cancelled, 0, 'cancelled after the first step');
});
