// passive-backup with a backup server: no heartbeats, no failover; killing either server changes
// nothing on the other, and a restarted server comes back to its state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keaCommand } from '../helpers/liveset.ts';
import { haStatus, startHa, waitState } from './ha-support.ts';

test('passive-backup: primary serves, backup waits; kill -9 and restart of each', async (t) => {
  const cluster = await startHa({ mode: 'passive-backup' });
  t.after(() => cluster.stopAll());
  const primary = cluster.server('server1');
  const backup = cluster.server('server2');
  await waitState([primary], 'passive-backup');
  await waitState([backup], 'backup');
  const st = await haStatus(primary);
  assert.deepEqual(st.local['scopes'], ['server1']);
  assert.equal(st.remote, undefined, 'no remote server in passive-backup');
  assert.equal((await haStatus(backup)).remote, undefined);
  assert.equal((await keaCommand(primary.url, 'ha-query', { key: 'k1' })).arguments.serve, true);
  assert.equal((await keaCommand(backup.url, 'ha-query', { key: 'k1' })).arguments.serve, false);

  await backup.kill();
  await keaCommand(primary.url, 'ha-reset');
  await waitState([primary], 'passive-backup');
  await backup.restart();
  await waitState([backup], 'backup');

  await primary.kill();
  const refused = await keaCommand(backup.url, 'ha-maintenance-start');
  assert.deepEqual(refused, { result: 1, text: 'Unable to transition the server from the backup to partner-in-maintenance state.' });
  assert.equal((await haStatus(backup)).local['state'], 'backup', 'a backup never fails over on its own');
  await primary.restart();
  await waitState([primary], 'passive-backup');
  assert.deepEqual(await keaCommand(backup.url, 'ha-scopes', { scopes: ['server1'] }), { result: 0, text: 'New HA scopes configured.' });
  assert.equal((await keaCommand(backup.url, 'ha-query', { key: 'k1' })).arguments.serve, false, 'scopes alone do not switch a backup on');
});
