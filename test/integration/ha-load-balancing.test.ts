// A real load-balancing pair: start-up, kill -9 and failover, rejoin; the notify script and a
// WebSocket subscriber see the transitions; a hanging notify script is killed without holding
// up the machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keaCommand, waitFor } from '../helpers/liveset.ts';
import { HEARTBEAT_DELAY, MAX_RESPONSE_DELAY, TransitionSubscriber, haStatus, startHa, waitState } from './ha-support.ts';

/**
 * Scheduling and connection set-up on a busy test machine, on top of the bound. Generous:
 * the suite must pass with the machine loaded (timings proper belong to `npm run bench`).
 */
const SLACK_MS = 2_000;

/** Appends `server old new` to notify.log; hangs when entering ready, to be killed. */
function notifyScript(dataRoot: string): Record<string, unknown> {
  const script = join(dataRoot, 'notify.sh');
  writeFileSync(script, `#!/bin/sh\necho "$3 $2 $1 $4" >> "${join(dataRoot, 'notify.log')}"\n[ "$1" = ready ] && exec sleep 30\nexit 0\n`, { mode: 0o755 });
  return { script, 'timeout-ms': 300 };
}

test('load-balancing pair: start, kill -9 one server, failover within max-response-delay + heartbeat-delay, rejoin', async (t) => {
  const cluster = await startHa({ mode: 'load-balancing', notify: notifyScript });
  t.after(() => cluster.stopAll());
  const s1 = cluster.server('server1');
  const s2 = cluster.server('server2');

  await waitState([s1, s2], 'load-balancing');
  const st = await haStatus(s1);
  assert.equal(st.local['role'], 'primary');
  assert.deepEqual(st.local['scopes'], ['server1']);
  assert.equal(st.local['paused'], false);
  assert.equal(st.remote?.['in-touch'], true);
  await waitFor(async () => (await haStatus(s1)).remote?.['last-state'] === 'load-balancing', { what: "server1 to see its partner's state" });

  const hb = await keaCommand(s2.url, 'ha-heartbeat');
  assert.equal(hb.text, 'HA peer status returned.');
  assert.equal(hb.arguments.state, 'load-balancing');
  assert.deepEqual(hb.arguments.scopes, ['server2']);

  const sub = await TransitionSubscriber.open(s1);
  t.after(() => sub.close());
  await s2.kill();
  await waitState([s1], 'partner-down');
  // A loaded machine may notice the missed heartbeats only once max-response-delay is already
  // over, and then goes straight to partner-down.
  const path = sub.events.map((e) => e['new-state']);
  assert.ok(['communication-recovery,partner-down', 'partner-down'].includes(path.join(',')), `transitions: ${path.join(', ')}`);
  const down = sub.events.at(-1)!;
  assert.equal(down['old-state'], path.length === 2 ? 'communication-recovery' : 'load-balancing');
  assert.equal(down['partner-state'], 'unavailable');
  assert.deepEqual(down['scopes'], ['server1', 'server2']);
  assert.ok(
    down['since-last-heartbeat-ms'] <= MAX_RESPONSE_DELAY + HEARTBEAT_DELAY + SLACK_MS,
    `partner-down ${down['since-last-heartbeat-ms']} ms after the last good heartbeat`,
  );
  const q = await keaCommand(s1.url, 'ha-query', { key: '00:16:3e:00:00:02', 'key-format': 'hex' });
  assert.equal(q.arguments.serve, true, 'in partner-down server1 serves every key');

  await s2.restart();
  await waitState([s1, s2], 'load-balancing');
  assert.ok(sub.events.some((e) => e['old-state'] === 'partner-down' && e['new-state'] === 'load-balancing'));

  const log = join(cluster.dataRoot, 'notify.log');
  await waitFor(() => existsSync(log) && readFileSync(log, 'utf8').includes('server1 partner-down load-balancing'), { what: 'notify log' });
  const lines = readFileSync(log, 'utf8');
  if (path.length === 2) {
    assert.match(lines, /server1 load-balancing communication-recovery unavailable/);
    assert.match(lines, /server1 communication-recovery partner-down unavailable/);
  } else assert.match(lines, /server1 load-balancing partner-down unavailable/);
  assert.match(lines, /server2 syncing ready /, 'the hanging script for ready ran');
  await waitFor(() => /HA_NOTIFY_SCRIPT_FAILED[^\n]*killed/.test(s2.logs()), { what: 'the hanging notify script to be killed' });
});
