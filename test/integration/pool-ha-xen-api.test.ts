// The real `xen-api` client (Xen Orchestra's connector) carries on across a master failover when it
// talks to the pool's floating management address (`management-url`): the host acting as master
// serves it and no other, so after kill -9 of the master the same client object — its calls and
// its event loop — reaches the new master without being told about it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient, type Xapi } from 'xen-api';
import { freePorts, waitFor } from '../helpers/liveset.ts';
import { EtcdCluster } from '../helpers/etcd-cluster.ts';
import { kea } from './pool-helpers.ts';
import { actingMasters, enableHa, startHaPool, T_SECONDS } from './pool-ha-helpers.ts';

const T_MS = T_SECONDS * 1000;

for (const stack of ['xhad', 'etcd'] as const) test(`${stack} stack: a xen-api client on the management address follows the master through kill -9: calls, logins and events`, { timeout: 240_000 }, async (t) => {
  const [port] = await freePorts(1);
  const managementUrl = `http://127.0.0.1:${port}/`;
  let etcd: EtcdCluster | undefined;
  if (stack === 'etcd') {
    etcd = await EtcdCluster.start();
    t.after(() => etcd!.stop());
  }
  const pool = await startHaPool(3, { extra: { 'management-url': managementUrl }, ...(etcd ? { etcd: { endpoints: etcd.endpoints() } } : {}) });
  t.after(() => pool.stopAll());
  const held = async (name: string) => (await pool.status(name))?.['management_url_held'] === true;
  await waitFor(() => held('host1'), { timeoutMs: 20_000, what: 'host1 (master) serves the management address' });
  assert.equal(await held('host2'), false, 'a slave does not');
  await enableHa(pool);

  // eventPollDelay: the client's own pause after a failed event.from (60 s by default) — the only
  // client setting changed, so the test sees the event loop's retry without waiting a minute.
  const xapi = createClient({ url: managementUrl.replace(/\/$/, ''), auth: { user: 'root', password: 'secret' }, eventPollDelay: 2000 });
  t.after(() => xapi.disconnect().catch(() => undefined));
  await xapi.connect();
  await xapi.objectsFetched;
  const refs = await pool.refs('host1');
  assert.equal(xapi.pool?.['master'], refs['host1']);
  assert.equal(xapi.pool?.['ha_cluster_stack'], stack);
  const before = (await xapi.call('VM.create', { name_label: 'before-kill', memory_static_max: 1048576 })) as string;

  // kill -9 the master: a survivor takes the lock and then the address.
  await pool.hosts.get('host1')!.kill();
  const killedAt = Date.now();
  const survivors = ['host2', 'host3'];
  await waitFor(async () => (await actingMasters(pool, survivors)).length === 1, { timeoutMs: T_MS + 15_000, intervalMs: 100, what: 'a new master' });
  const [master] = await actingMasters(pool, survivors);
  await waitFor(() => held(master!), { timeoutMs: 10_000, what: `${master} serves the management address` });
  assert.equal(await held(survivors.find((s) => s !== master)!), false, 'only the new master serves it');

  // The same client object: its session was the old master's, so it logs in again by itself.
  await waitFor(async () => {
    try {
      return ((await xapi.call('VM.get_record', before)) as { name_label: string }).name_label === 'before-kill';
    } catch {
      return false;
    }
  }, { timeoutMs: 30_000, intervalMs: 250, what: 'the VM acknowledged before the kill, read through the same client' });
  t.diagnostic(`the same client read through the new master ${Date.now() - killedAt} ms after kill -9 (T = ${T_MS} ms)`);
  const after = (await xapi.call('VM.create', { name_label: 'after-kill', memory_static_max: 1048576 })) as string;
  assert.equal(((await kea(pool.url(master!), 'VM.get_record', { self: after })).arguments as { name_label: string }).name_label, 'after-kill');

  // Its event loop found the new master too: a VM made there directly reaches the client's cache.
  const direct = (await kea(pool.url(master!), 'VM.create', { args: { name_label: 'made-on-new-master', memory_static_max: 1048576 } })).arguments as string;
  await waitFor(() => xapi.getObjectByRef(direct, undefined)?.['name_label'] === 'made-on-new-master', { timeoutMs: 30_000, intervalMs: 200, what: 'the event reached the client' });
  t.diagnostic(`the client's event loop delivered an event from the new master ${Date.now() - killedAt} ms after kill -9`);
  await waitFor(() => xapi.pool?.['master'] === refs[master!], { timeoutMs: 30_000, what: 'the client sees the new master in its pool record' });
});
