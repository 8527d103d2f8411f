// How the etcd stack's connection settings are checked and how its failures are told to the
// operator: the settings that go together, http:// vs https:// against the TLS files, the messages
// gRPC and etcd really give (copied from runs against etcd 3.4 through etcd3 1.1.2) turned into ones
// that name the setting, and the TLS probe that finds the reason gRPC hides, against a real TLS
// server with certificates made at run time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type TLSSocket } from 'node:tls';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import {
  connectionProblem,
  describeEtcdError,
  etcdErrorKind,
  EtcdSettingsError,
  isPermanentEtcdError,
  openEtcd,
  probeTls,
} from '../../../src/hook-libs/pool/etcd/etcd-connection.ts';
import { etcdParameterProblems } from '../../../src/hook-libs/pool/etcd/etcd-parameters.ts';
import { checkPoolConfig } from '../../../src/hook-libs/pool/pool-config.ts';
import { makeTestPki, opensslMissing } from '../../helpers/etcd-pki.ts';
import { poolParams } from './sim-pool.ts';

const HTTPS = ['https://127.0.0.1:2379', 'https://127.0.0.1:2380'];
const TLS = { 'trust-anchor': '/etc/liveset/etcd-ca.pem', 'cert-file': '/etc/liveset/etcd-client.pem', 'key-file': '/etc/liveset/etcd-client.key' };
const opts = { endpoints: HTTPS, prefix: '/liveset/p', tls: TLS, auth: { user: 'liveset', password: 'x' } };

// As etcd3 reports them (GRPCUnavailableError, EtcdAuthenticationFailedError, EtcdPermissionDeniedError).
const WRONG_CA = '14 UNAVAILABLE: No connection established. Last error: Error: unable to verify the first certificate. Resolution note: ';
const CERT_REFUSED =
  '14 UNAVAILABLE: No connection established. Last error: 802C43F6B27F0000:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 42\n (2026-12-03T06:38:59.886Z). Resolution note: ';
const BAD_PASSWORD = '3 INVALID_ARGUMENT: etcdserver: authentication failed, invalid user ID or password';
const DENIED = '7 PERMISSION_DENIED: etcdserver: permission denied';
const HIDDEN = '14 UNAVAILABLE: No connection established. Last error: null. Resolution note: ';

test('etcd connection settings and errors', { timeout: 30_000 }, async (t) => {
  await t.test('settings that go together: cert-file with key-file, user with a password, one password source', () => {
    assert.deepEqual(etcdParameterProblems({ ...TLS, user: 'u', 'password-file': '/p' }), []);
    assert.deepEqual(etcdParameterProblems({}), []);
    assert.deepEqual(etcdParameterProblems({ 'trust-anchor': '/ca.pem' }), [], 'a CA alone: TLS without a client certificate');
    assert.match(etcdParameterProblems({ 'cert-file': '/c.pem' }).join(), /cert-file, key-file: give both/);
    assert.match(etcdParameterProblems({ user: 'u' }).join(), /user: needs password or password-file/);
    assert.match(etcdParameterProblems({ password: 'p' }).join(), /password: needs user/);
    assert.match(etcdParameterProblems({ user: 'u', password: 'p', 'password-file': '/p' }).join(), /give one of them, not both/);
    // `liveset check` sees them too.
    const problems = checkPoolConfig(poolParams({ 'cluster-stacks': { etcd: { 'key-file': '/k', user: 'u' } } }), 'host1');
    assert.ok(problems.some((p) => p.startsWith('cluster-stacks.etcd.cert-file, key-file')), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('cluster-stacks.etcd.user')), problems.join('\n'));
  });

  await t.test('https:// is the one switch for TLS: TLS files with http:// endpoints, or mixed schemes, are refused', () => {
    assert.equal(connectionProblem({ endpoints: HTTPS, tls: TLS }), undefined);
    assert.equal(connectionProblem({ endpoints: HTTPS }), undefined, "https without a CA: the system's CAs");
    assert.equal(connectionProblem({ endpoints: ['http://127.0.0.1:2379'] }), undefined);
    assert.match(connectionProblem({ endpoints: ['http://127.0.0.1:2379'], tls: { 'trust-anchor': '/ca.pem' } }) ?? '', /cluster-stacks.etcd.trust-anchor set, but device_config.endpoints use http:\/\//);
    assert.match(connectionProblem({ endpoints: ['http://a:1', 'https://b:1'] }) ?? '', /mixes http:\/\/ and https:\/\//);
  });

  await t.test('openEtcd refuses such settings, and unreadable files, before loading the client', async () => {
    await assert.rejects(openEtcd({ endpoints: ['http://127.0.0.1:2379'], prefix: '/p', tls: { 'trust-anchor': '/ca.pem' } }), EtcdSettingsError);
    await assert.rejects(openEtcd({ endpoints: HTTPS, prefix: '/p', tls: { 'trust-anchor': '/nonexistent/ca.pem' } }),
      (e: Error) => e instanceof EtcdSettingsError && /cluster-stacks.etcd.trust-anchor: cannot read \/nonexistent\/ca.pem: ENOENT/.test(e.message));
  });

  await t.test("gRPC's and etcd's messages become ones that name the setting", () => {
    assert.equal(etcdErrorKind(new Error(WRONG_CA)), 'tls-server');
    assert.equal(describeEtcdError(new Error(WRONG_CA), opts),
      "TLS: etcd's server certificate is not trusted with cluster-stacks.etcd.trust-anchor /etc/liveset/etcd-ca.pem (unable to verify the first certificate): it must be the CA that signed etcd's --cert-file, and that certificate must name the host or IP of the endpoint");
    assert.match(describeEtcdError(new Error(WRONG_CA), { ...opts, tls: {} }), /not trusted by the system's CAs .*no cluster-stacks.etcd.trust-anchor is set/);
    assert.equal(etcdErrorKind(new Error(CERT_REFUSED)), 'tls-client');
    assert.equal(describeEtcdError(new Error(CERT_REFUSED), opts),
      "TLS: etcd refused this host's client certificate cluster-stacks.etcd.cert-file /etc/liveset/etcd-client.pem (sslv3 alert bad certificate, SSL alert number 42): etcd runs with --client-cert-auth and the certificate must be signed by its --trusted-ca-file and allow client authentication");
    assert.match(describeEtcdError(new Error(CERT_REFUSED), { ...opts, tls: { 'trust-anchor': '/ca.pem' } }), /etcd demands a client certificate \(--client-cert-auth\) and none is configured/);
    assert.equal(describeEtcdError(new Error(BAD_PASSWORD), opts),
      'etcd authentication: etcd refused user "liveset" (invalid user or password): check cluster-stacks.etcd.user and password / password-file');
    assert.match(describeEtcdError(new Error(DENIED), opts), /etcd user "liveset" may not read and write under \/liveset\/p\/ .*grant its role readwrite/);
    assert.match(describeEtcdError(new Error(DENIED), { ...opts, auth: undefined }), /etcd has authentication enabled and this host gives no user/);
    assert.match(describeEtcdError(new Error('3 INVALID_ARGUMENT: etcdserver: authentication is not enabled'), opts), /user is set but etcd has authentication disabled/);
    // https:// endpoints of an etcd without TLS (it hangs up).
    const plain = '14 UNAVAILABLE: No connection established. Last error: Error: Client network socket disconnected before secure TLS connection was established. Resolution note: ';
    assert.equal(describeEtcdError(new Error(plain), opts),
      'TLS: the endpoint does not complete a TLS handshake (Client network socket disconnected before secure TLS connection was established): an etcd without TLS does this; use http:// endpoints for it, or start etcd with --cert-file/--key-file');
    // Not a settings problem: kept as it is, and retried.
    assert.equal(describeEtcdError(new Error(HIDDEN), opts), HIDDEN);
    for (const m of [WRONG_CA, CERT_REFUSED, BAD_PASSWORD, DENIED, plain]) assert.equal(isPermanentEtcdError(new Error(m)), true, m);
    assert.equal(isPermanentEtcdError(new Error(HIDDEN)), false);
    assert.equal(isPermanentEtcdError(new Error('14 UNAVAILABLE: Connection dropped')), false);
  });

  await t.test('probeTls finds the TLS reason with a handshake of its own', { skip: opensslMissing() ?? false }, async (t2) => {
    const dir = mkdtempSync(join(tmpdir(), 'liveset-tls-probe-'));
    t2.after(() => rmSync(dir, { recursive: true, force: true }));
    const pki = makeTestPki(dir);
    // Like etcd: TLS 1.3, client certificates verified, the HTTP/2 preface first.
    const server = createServer({
      cert: readFileSync(pki.serverCert), key: readFileSync(pki.serverKey), ca: readFileSync(pki.ca),
      requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['h2'],
    }, (s: TLSSocket) => s.end(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])));
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t2.after(() => new Promise<void>((r) => server.close(() => r())));
    const endpoints = [`https://127.0.0.1:${(server.address() as AddressInfo).port}`];
    const good = { 'trust-anchor': pki.ca, 'cert-file': pki.clientCert, 'key-file': pki.clientKey };
    assert.equal(await probeTls({ endpoints, tls: good }), undefined, 'accepted');
    const wrongCa = await probeTls({ endpoints, tls: { ...good, 'trust-anchor': pki.otherCa } });
    assert.equal(etcdErrorKind(wrongCa), 'tls-server', String(wrongCa));
    assert.match(describeEtcdError(wrongCa, { endpoints, prefix: '/p', tls: { ...good, 'trust-anchor': pki.otherCa } }), /server certificate is not trusted with cluster-stacks.etcd.trust-anchor/);
    // (A refused client certificate is covered against etcd itself, in pool-ha-etcd-tls.test.ts: Go
    // sends the TLS alert the probe reads, where node's TLS server just hangs up.)
    // Nobody listening is not a TLS problem: nothing to report.
    assert.equal(await probeTls({ endpoints: ['https://127.0.0.1:1'], tls: good }), undefined);
    // A certificate with the wrong key is refused when the client is opened, naming the files.
    await assert.rejects(openEtcd({ endpoints, prefix: '/p', tls: { ...good, 'key-file': pki.otherClientKey } }),
      (e: Error) => e instanceof EtcdSettingsError && /TLS files cannot be used .*key values mismatch/.test(e.message));
  });
});
