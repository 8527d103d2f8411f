// A real hot-standby pair: kill the primary (standby takes over), bring it back; kill the standby
// (primary goes partner-down), bring it back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keaCommand } from '../helpers/liveset.ts';
import { HEARTBEAT_DELAY, MAX_RESPONSE_DELAY, TransitionSubscriber, haStatus, startHa, waitState } from './ha-support.ts';

// Timers fire late on a loaded two-core machine (790 ms against a 600 ms bound was seen with one
// core busy); the exact bound is the machine's, checked on a fake clock in test/unit/ha. Here the
// slack only has to tell "after max-response-delay" from "after several of them".
const SLACK_MS = 1_000;

test('hot-standby pair: kill -9 the primary, then the standby; each time the survivor takes over and the pair recovers', async (t) => {
  const cluster = await startHa({ mode: 'hot-standby' });
  t.after(() => cluster.stopAll());
  const primary = cluster.server('server1');
  const standby = cluster.server('server2');
  await waitState([primary, standby], 'hot-standby');
  assert.deepEqual((await haStatus(primary)).local['scopes'], ['server1']);
  assert.deepEqual((await haStatus(standby)).local['scopes'], []);
  const key = { key: 'client-42' };
  assert.equal((await keaCommand(primary.url, 'ha-query', key)).arguments.serve, true);
  assert.equal((await keaCommand(standby.url, 'ha-query', key)).arguments.serve, false);

  const onStandby = await TransitionSubscriber.open(standby);
  t.after(() => onStandby.close());
  await primary.kill();
  await waitState([standby], 'partner-down');
  const down = onStandby.events.find((e) => e['new-state'] === 'partner-down');
  assert.ok(down !== undefined);
  assert.equal(down['old-state'], 'hot-standby', 'no communication-recovery outside load-balancing');
  assert.ok(down['since-last-heartbeat-ms'] <= MAX_RESPONSE_DELAY + HEARTBEAT_DELAY + SLACK_MS, `${down['since-last-heartbeat-ms']} ms`);
  assert.deepEqual(down['scopes'], ['server1'], "the standby takes over the primary's scope");
  assert.equal((await keaCommand(standby.url, 'ha-query', key)).arguments.serve, true);

  await primary.restart();
  await waitState([primary, standby], 'hot-standby');

  const onPrimary = await TransitionSubscriber.open(primary);
  t.after(() => onPrimary.close());
  await standby.kill();
  await waitState([primary], 'partner-down');
  const down2 = onPrimary.events.find((e) => e['new-state'] === 'partner-down');
  assert.ok(down2 !== undefined);
  assert.ok(down2['since-last-heartbeat-ms'] <= MAX_RESPONSE_DELAY + HEARTBEAT_DELAY + SLACK_MS, `${down2['since-last-heartbeat-ms']} ms`);
  await standby.restart();
  await waitState([primary, standby], 'hot-standby');
});
