// Pool HA on the `etcd` stack against a real three-member etcd (Debian etcd-server) that serves TLS
// on its client and peer URLs, demands client certificates (--client-cert-auth) and has etcd's own
// authentication enabled, with a user whose role may read and write only under /liveset/. The
// certificates are made at run time (test/helpers/etcd-pki.ts); nothing secret is checked in.
//
// Each host reads its TLS files and password file from its own directory (${LIVESET_TEST_ETCD_DIR}
// in the shared configuration, set per host), so one host can be misconfigured while the others are
// not: a wrong CA, a client certificate etcd does not trust, a wrong password — each makes
// pool.enable_ha fail at once in host3's preconfigure phase with an error that names the problem,
// and HA is undone on every host. A role without write permission fails the statefile phase the
// same way. Then, every file right, HA is enabled: the hosts join, host1 is master through etcd's
// election, a record written is in etcd's redo log under the prefix, the hosts keep their leases
// past the TTL (their own keepalives run over TLS with the token), and disable is clean.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3, Range } from 'etcd3';
import { waitFor } from '../helpers/liveset.ts';
import { EtcdCluster, etcdMissing } from '../helpers/etcd-cluster.ts';
import { makeTestPki, opensslMissing } from '../helpers/etcd-pki.ts';
import { errorOf, kea } from './pool-helpers.ts';
import { haStatus, startHaPool, T_SECONDS } from './pool-ha-helpers.ts';

const PREFIX = '/liveset/tls-pool';
const USER = 'liveset';
const PASSWORD = 'pool-etcd-password';

test('pool HA on the etcd stack over TLS with client certificates and an etcd user: misconfigured hosts fail enable_ha clearly and it is undone; then enable, elect, write, keep leases, disable', {
  timeout: 120_000, skip: etcdMissing() ?? opensslMissing() ?? false,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'liveset-etcd-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pki = makeTestPki(join(dir, 'pki'));
  const etcd = await EtcdCluster.start({
    tls: { ca: pki.ca, cert: pki.serverCert, key: pki.serverKey, clientCertAuth: true, peer: true, clientCert: pki.clientCert, clientKey: pki.clientKey },
  });
  t.after(() => etcd.stop());
  assert.ok(etcd.endpoints().every((e) => e.startsWith('https://')));

  // etcd 3.4 enables authentication only with a root user (root role); the pool's user gets a role
  // that may only read under /liveset/ for now (write permission comes later in the test).
  const credentials = { rootCertificate: readFileSync(pki.ca), certChain: readFileSync(pki.clientCert), privateKey: readFileSync(pki.clientKey) };
  const setup = new Etcd3({ hosts: etcd.endpoints(), credentials });
  try {
    await setup.user('root').create('root-password');
    await setup.user('root').addRole('root');
    await setup.role('liveset-pool').create();
    await setup.role('liveset-pool').grant({ permission: 'Read', range: Range.prefix('/liveset/') });
    await setup.user(USER).create(PASSWORD);
    await setup.user(USER).addRole('liveset-pool');
    await setup.auth.authEnable();
  } finally {
    setup.close();
  }
  const admin = new Etcd3({ hosts: etcd.endpoints(), credentials, auth: { username: 'root', password: 'root-password' } });
  t.after(() => admin.close());

  // Each host's files: right ones for host1 and host2, host3's are changed below.
  const hostDir = (n: string) => join(dir, n);
  const put = (n: string, files: { ca?: string; cert?: string; key?: string; password?: string }) => {
    mkdirSync(hostDir(n), { recursive: true });
    copyFileSync(files.ca ?? pki.ca, join(hostDir(n), 'ca.pem'));
    copyFileSync(files.cert ?? pki.clientCert, join(hostDir(n), 'client.pem'));
    copyFileSync(files.key ?? pki.clientKey, join(hostDir(n), 'client.key'));
    writeFileSync(join(hostDir(n), 'etcd.pass'), `${files.password ?? PASSWORD}\n`, { mode: 0o600 });
  };
  for (const n of ['host1', 'host2', 'host3']) put(n, {});
  put('host3', { ca: pki.otherCa });

  const pool = await startHaPool(3, {
    etcd: { endpoints: etcd.endpoints(), prefix: PREFIX },
    extra: {
      'cluster-stacks': {
        etcd: {
          'trust-anchor': '${LIVESET_TEST_ETCD_DIR}/ca.pem',
          'cert-file': '${LIVESET_TEST_ETCD_DIR}/client.pem',
          'key-file': '${LIVESET_TEST_ETCD_DIR}/client.key',
          user: USER,
          'password-file': '${LIVESET_TEST_ETCD_DIR}/etcd.pass',
        },
      },
    },
    hostEnv: (n) => ({ LIVESET_TEST_ETCD_DIR: hostDir(n) }),
  });
  let passed = false;
  t.after(() => {
    if (passed) return;
    for (const n of pool.names) {
      const lines = pool.hosts.get(n)!.logs().split('\n').filter((l) => /POOL_HA|POOL_ETCD|HA_STATEFILE|POOL_MASTER|POOL_ROLE/.test(l)).slice(-30);
      t.diagnostic(`${n} HA log:\n${lines.join('\n')}`);
    }
  });
  t.after(() => pool.stopAll());
  const m1 = pool.url('host1');
  const refs = await pool.refs('host1');

  /** A failed enable: the error, its host and phase, how long it took; and HA undone everywhere. */
  const failedEnable = async (host: string, phase: string, problem: RegExp) => {
    const started = Date.now();
    const a = await kea(m1, 'pool.enable_ha', { heartbeat_srs: [pool.srRef], configuration: { timeout: String(T_SECONDS) } });
    const took = Date.now() - started;
    const e = errorOf(a);
    const text = a.text ?? '';
    assert.equal(e.error, 'HA_HOST_CANNOT_ACCESS_STATEFILE', a.text);
    assert.deepEqual(e.params?.slice(-2), [refs[host] as string, phase], a.text);
    assert.match(text, problem);
    assert.match(text, new RegExp(`failed on host ${host} .* in phase ${phase}: .*HA was disabled again on every host`));
    // Not a timeout: the enable join timeout here is T + 60 s scaled (28 s).
    assert.ok(took < 10_000, `the failed enable took ${took} ms`);
    for (const n of pool.names) {
      const st = await haStatus(pool, n);
      assert.equal(st?.['armed'], false, `${n} disarmed after the failed enable`);
      assert.notEqual(st?.['state'], 'online', `${n}'s HA daemon stopped`);
    }
    const record = (await kea(m1, 'pool.get_all_records')).arguments as Record<string, { ha_enabled: boolean; ha_statefiles: string[]; ha_cluster_stack: string }>;
    const [poolRecord] = Object.values(record);
    assert.deepEqual([poolRecord?.ha_enabled, poolRecord?.ha_statefiles, poolRecord?.ha_cluster_stack], [false, [], ''], 'the pool fields are reset');
    t.diagnostic(`${host} ${phase}: failed in ${took} ms: ${text}`);
  };

  // ---- host3 trusts the wrong CA ----
  await failedEnable('host3', 'preconfigure', new RegExp(`TLS: etcd's server certificate is not trusted with cluster-stacks.etcd.trust-anchor ${hostDir('host3')}/ca.pem`));
  // ---- host3 presents a client certificate etcd does not trust (--client-cert-auth) ----
  put('host3', { cert: pki.otherClientCert, key: pki.otherClientKey });
  await failedEnable('host3', 'preconfigure', new RegExp(`TLS: etcd refused this host's client certificate cluster-stacks.etcd.cert-file ${hostDir('host3')}/client.pem`));
  // ---- host3 has the wrong password ----
  put('host3', { password: 'not-the-password' });
  await failedEnable('host3', 'preconfigure', /etcd authentication: etcd refused user "liveset" \(invalid user or password\)/);
  // ---- every host right, but the user's role may not write: the master's first write (the HA state key) is refused ----
  put('host3', {});
  await failedEnable('host1', 'statefile', new RegExp(`etcd user "liveset" may not read and write under ${PREFIX}/ .*grant its role readwrite`));
  await admin.role('liveset-pool').grant({ permission: 'Readwrite', range: Range.prefix('/liveset/') });

  // ---- enable: every host joins over TLS with its token, host1 is master through etcd ----
  const enabled = await kea(m1, 'pool.enable_ha', { heartbeat_srs: [pool.srRef], configuration: { timeout: String(T_SECONDS) } });
  assert.equal(enabled.result, 0, enabled.text);
  assert.equal((await kea(m1, 'pool.get_ha_cluster_stack')).arguments, 'etcd');
  // Each host returned from its join once its own key was live; the others' keys and the lock reach
  // it through its watches, moments later.
  const views = async () => Promise.all(pool.names.map(async (n) => [n, await haStatus(pool, n)] as const));
  await waitFor(async () => (await views()).every(([, st]) => (st?.['liveset'] as string[] | undefined)?.length === 3 && st?.['master_lock'] === 'host1'),
    { timeoutMs: 10_000, what: "every host's view: three hosts live, host1 holding the lock" });
  for (const [n, st] of await views()) {
    assert.equal(st?.['armed'], true, `${n} armed`);
    assert.deepEqual([...(st?.['liveset'] as string[])].sort(), ['host1', 'host2', 'host3'], `${n}'s liveset`);
    assert.equal(st?.['master_lock'], 'host1', `${n} sees host1 holding the master lock`);
    assert.equal(st?.['detail']?.['etcd_endpoints'], etcd.endpoints().join(','));
  }
  assert.equal((await haStatus(pool, 'host1'))?.['i_am_master'], true);
  const hostKeys = await admin.getAll().prefix(`${PREFIX}/hosts/`).keys();
  assert.equal(hostKeys.length, 3, `every host's liveness key is in etcd: ${hostKeys.join(', ')}`);
  // A host that joined before host1's campaign key existed may have queued too; it withdraws.
  await waitFor(async () => (await admin.getAll().prefix(`${PREFIX}/election/`).keys()).length === 1, { timeoutMs: 10_000, what: 'only the master in the election' });

  // ---- a record written is acknowledged only once it is in etcd's redo log ----
  const vm = await kea(m1, 'VM.create', { args: { name_label: 'written-over-tls', memory_static_max: 1024 } });
  assert.equal(vm.result, 0, vm.text);
  const redo = await admin.getAll().prefix(`${PREFIX}/db/ha-redo/`).strings();
  assert.ok(Object.values(redo).some((v) => v.includes('written-over-tls')), `the VM is in etcd's redo log (${Object.keys(redo).length} keys)`);

  // ---- the hosts' own keepalives run over TLS: past the TTL every host still holds its lease ----
  const lockRevision = (await haStatus(pool, 'host1'))?.['detail']?.['master_lock_revision'];
  await new Promise((r) => setTimeout(r, T_SECONDS * 1000 + 1500));
  for (const [n, st] of await views()) {
    assert.equal(st?.['state'], 'online', `${n} online after the TTL`);
    assert.deepEqual([...(st?.['liveset'] as string[])].sort(), ['host1', 'host2', 'host3'], `${n}'s liveset after the TTL`);
    // 'held' is momentary (a keepalive late on a loaded machine makes it 'lost' for a moment, while
    // etcd still has the lease): it must come back by itself, within a keepalive interval or two.
    await waitFor(async () => (await haStatus(pool, n))?.['detail']?.['lease'] === 'held', { timeoutMs: 5_000, what: `${n} holding its lease` });
    assert.equal((await haStatus(pool, n))?.['detail']?.['etcd_reachable'], true, `${n} reaches etcd`);
  }
  assert.equal((await haStatus(pool, 'host1'))?.['detail']?.['master_lock_revision'], lockRevision, 'the master lock never changed hands');
  assert.equal((await admin.leaseClient.leaseLeases()).leases.length, 3, 'one live lease per host in etcd');

  // ---- an etcd member restarted (TLS and tokens anew on its side): the pool carries on ----
  // If m2 led the raft group, keepalives pause for an election (as in pool-ha-etcd.test.ts): the
  // master may stop acting for a moment, but it keeps its lease and campaign key.
  await etcd.restart('m2');
  await new Promise((r) => setTimeout(r, T_SECONDS * 1000 + 1000));
  for (const n of pool.names) assert.equal((await haStatus(pool, n))?.['state'], 'online', `${n} online after the member restart`);
  await waitFor(async () => (await haStatus(pool, 'host1'))?.['i_am_master'] === true, { timeoutMs: 10_000, what: 'host1 acting on the lock' });
  assert.equal((await haStatus(pool, 'host1'))?.['detail']?.['master_lock_revision'], lockRevision, 'the master lock never changed hands');
  await waitFor(async () => (await kea(m1, 'VM.create', { args: { name_label: 'after-restart', memory_static_max: 1024 } })).result === 0,
    { timeoutMs: 10_000, what: 'a write after the member restart' });

  // ---- disable: every host disarms ----
  assert.equal((await kea(m1, 'pool.disable_ha')).result, 0);
  for (const n of pool.names) await waitFor(async () => (await haStatus(pool, n))?.['armed'] === false, { timeoutMs: 20_000, what: `${n} disarmed` });
  await waitFor(async () => (await admin.getAll().prefix(`${PREFIX}/hosts/`).keys()).length === 0, { timeoutMs: 10_000, what: 'the leases revoked' });
  passed = true;
});
