import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient, type Xapi } from 'xen-api';
import { waitFor } from '../helpers/liveset.ts';
import { allLive, startPool, type PoolCluster } from './pool-helpers.ts';

// The `xen-api` npm client (Xen Orchestra's connector) against a real three-host pool.
let cluster: PoolCluster;
const clients: Xapi[] = [];
before(async () => {
  cluster = await startPool();
  await allLive(cluster);
});
after(async () => {
  await Promise.all(clients.map((x) => x.disconnect().catch(() => undefined)));
  await cluster?.stopAll();
});

const urlOf = (name: string) => cluster.url(name).replace(/\/$/, '');

function client(name: string, password = 'secret'): Xapi {
  const x = createClient({ url: urlOf(name), auth: { user: 'root', password } });
  clients.push(x);
  return x;
}

test('xen-api connects to the master and reads the pool', async () => {
  const xapi = client('host1');
  await xapi.connect();
  assert.equal(xapi.status, 'connected');
  assert.equal(xapi.pool?.['name_label'], 'it-pool');
  const refs = await cluster.refs('host1');
  assert.equal(xapi.pool?.['master'], refs['host1']);
  const methods = (await xapi.call('system.listMethods')) as string[];
  assert.ok(methods.includes('pool.designate_new_master'));
  assert.ok(methods.includes('VM.get_all_records'));
});

test('xen-api watches events: a new VM and a change to it reach its object cache', async () => {
  const xapi = client('host1');
  await xapi.connect();
  await xapi.objectsFetched;
  const hosts = Object.values(xapi.objects.all).filter((o) => o.$type === 'host');
  assert.equal(hosts.length, 3, 'hosts fetched through host.get_all_records');
  const ref = (await xapi.call('VM.create', { name_label: 'watched', memory_static_max: 1048576 })) as string;
  await waitFor(() => xapi.getObjectByRef(ref, undefined)?.['name_label'] === 'watched', { timeoutMs: 10_000 });
  assert.equal(await xapi.call('VM.set_order', ref, 7), '');
  await waitFor(() => xapi.getObjectByRef(ref, undefined)?.['order'] === 7, { timeoutMs: 10_000 });
});

test('a failing call gives an XapiError with code and params', async () => {
  const xapi = client('host1');
  await xapi.connect();
  await assert.rejects(xapi.call('VM.get_record', 'OpaqueRef:nope'), (err: unknown) => {
    assert.ok(err instanceof Error);
    const e = err as Error & { code?: string; params?: string[] };
    assert.equal(e.code, 'HANDLE_INVALID');
    assert.deepEqual(e.params, ['VM', 'OpaqueRef:nope']);
    return true;
  });
  await assert.rejects(xapi.call('VM.set_ha_restart_priority', (await cluster.refs('host1'))['host1'], 'always'), (err: unknown) => {
    const e = err as { code?: string; params?: string[] };
    assert.equal(e.code, 'HANDLE_INVALID');
    return true;
  });
});

test('a wrong password gives SESSION_AUTHENTICATION_FAILED', async () => {
  const xapi = client('host1', 'wrong');
  await assert.rejects(xapi.connect(), (err: unknown) => {
    const e = err as { code?: string; params?: string[] };
    assert.equal(e.code, 'SESSION_AUTHENTICATION_FAILED');
    assert.deepEqual(e.params, ['root', 'Authentication failure']);
    return true;
  });
});
