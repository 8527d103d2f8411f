// Pausing and maintenance on a real load-balancing pair: waiting once, ready always, ha-continue,
// ha-reset, ha-maintenance-start / -cancel, and bad arguments answered without harm.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keaCommand, waitFor } from '../helpers/liveset.ts';
import { haStatus, startHa, waitState } from './ha-support.ts';

test('pausing: waiting once holds both until ha-continue; ready always pauses again after ha-reset; maintenance', async (t) => {
  const cluster = await startHa({
    mode: 'load-balancing',
    states: [
      { state: 'waiting', pause: 'once' },
      { state: 'ready', pause: 'always' },
    ],
  });
  t.after(() => cluster.stopAll());
  const s1 = cluster.server('server1');
  const s2 = cluster.server('server2');

  await waitState([s1, s2], 'waiting', { paused: true });
  const st = await haStatus(s1);
  assert.equal(st.local['paused-state'], 'waiting');
  await waitFor(async () => (await haStatus(s1)).remote?.['last-state'] === 'waiting', { what: 'heartbeats while paused' });
  assert.equal((await keaCommand(s2.url, 'ha-heartbeat')).arguments.state, 'waiting', 'a paused server answers heartbeats');

  assert.deepEqual(await keaCommand(s1.url, 'ha-continue'), { result: 0, text: 'HA state machine continues.' });
  // No second ha-continue here: server1 may already have reached ready, which pauses (always).
  await waitState([s1], 'ready', { paused: true });
  assert.equal(await haStatus(s2).then((s) => s.local['state']), 'waiting', 'server2 is still held');
  assert.deepEqual(await keaCommand(s2.url, 'ha-continue'), { result: 0, text: 'HA state machine continues.' });
  await waitState([s2], 'ready', { paused: true });
  for (const s of [s1, s2]) assert.equal((await keaCommand(s.url, 'ha-continue')).text, 'HA state machine continues.');
  await waitState([s1, s2], 'load-balancing', { paused: false });
  assert.deepEqual(await keaCommand(s1.url, 'ha-continue'), { result: 0, text: 'HA state machine is not paused.' });

  assert.deepEqual(await keaCommand(s1.url, 'ha-reset'), { result: 0, text: 'HA state machine reset.' });
  await waitState([s1], 'ready', { paused: true });
  assert.equal((await haStatus(s1)).local['paused-state'], 'ready');
  assert.equal((await keaCommand(s1.url, 'ha-continue')).text, 'HA state machine continues.');
  await waitState([s1, s2], 'load-balancing');

  const start = await keaCommand(s1.url, 'ha-maintenance-start');
  assert.deepEqual(start, {
    result: 0,
    text: 'Server is now in the partner-in-maintenance state and its partner is in-maintenance state. The partner can be now safely shut down.',
  });
  assert.equal(await haStatus(s1).then((s) => s.local['state']), 'partner-in-maintenance');
  assert.equal(await haStatus(s2).then((s) => s.local['state']), 'in-maintenance');
  assert.deepEqual((await haStatus(s1)).local['scopes'], ['server1', 'server2']);
  assert.deepEqual((await haStatus(s2)).local['scopes'], []);
  const refused = await keaCommand(s1.url, 'ha-maintenance-notify', { cancel: false });
  assert.deepEqual(refused, { result: 1001, text: 'Unable to transition the server from the partner-in-maintenance to in-maintenance state.' });
  const bare = await keaCommand(s2.url, 'ha-maintenance-notify');
  assert.equal(bare.result, 1, 'no arguments: an error answer, not a dropped connection');
  const cancel = await keaCommand(s1.url, 'ha-maintenance-cancel');
  assert.deepEqual(cancel, { result: 0, text: 'Server maintenance successfully canceled.' });
  await waitState([s1, s2], 'load-balancing');
  const again = await keaCommand(s1.url, 'ha-maintenance-cancel');
  assert.deepEqual(again, { result: 1, text: 'Unable to cancel maintenance request because the server is not in the partner-in-maintenance state.' });
});
