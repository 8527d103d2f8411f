// TLS as Kea 2.2 does it (issue 10): every server listens with server.tls (cert-required: mutual
// TLS), and calls its HA partner and its pool hosts at https:// URLs with Kea's HA keys
// (trust-anchor, cert-file, key-file). An HA pair and a three-host pool run with TLS and
// credentials on: heartbeats flow, slaves are live, a master change commits on every host; a
// client certificate from another CA and a wrong pool secret are refused and logged.
//
// The certificates are made here with `openssl` into a temporary directory rather than checked in:
// test keys in the repository would be flagged by secret scanners and would expire; a fresh CA per
// run costs a few milliseconds and cannot be trusted by anything else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts, startMembers, waitFor } from '../helpers/liveset.ts';
import { cliArgs } from '../../src/cli/runtime-info.ts';

/** A CA and a leaf it signs for 127.0.0.1 (server and client use: no extended key usage). */
function makeCa(dir: string, name: string): { ca: string; cert: string; key: string } {
  const p = (f: string) => join(dir, `${name}-${f}`);
  const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '2', '-subj', `/CN=${name} test CA`]);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', p('node.key'), '-out', p('node.csr'), '-subj', `/CN=${name} node`]);
  writeFileSync(p('ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  openssl(['x509', '-req', '-in', p('node.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p('node.pem'), '-days', '2', '-extfile', p('ext.cnf')]);
  return { ca: p('ca.pem'), cert: p('node.pem'), key: p('node.key') };
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const OPERATOR = basic('admin', 'operator-password');

/** One Kea command over https with the given client TLS; resolves with HTTP status and body, or rejects on a TLS failure. */
function kea(url: string, command: string, args: unknown, tls: { ca: string; cert?: string; key?: string }, auth = OPERATOR): Promise<{ status: number; body: any }> {
  const body = JSON.stringify(args === undefined ? { command } : { command, arguments: args });
  return new Promise((resolve, reject) => {
    const req = request(new URL(url), {
      method: 'POST', agent: false, ca: readFileSync(tls.ca), ...(tls.cert ? { cert: readFileSync(tls.cert), key: readFileSync(tls.key as string) } : {}),
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), Authorization: auth, 'X-Liveset-Error-Detail': '1' },
    }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('an HA pair and a three-host pool run with mutual TLS and credentials; a foreign client certificate and a wrong pool secret are refused and logged', { timeout: 240_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'liveset-tls-'));
  const good = makeCa(dir, 'pool');
  const rogue = makeCa(dir, 'rogue');
  const ports = await freePorts(3);
  const names = ['host1', 'host2', 'host3'];
  const url = (i: number) => `https://127.0.0.1:${ports[i]}/`;
  writeFileSync(join(dir, 'ha.pass'), 'ha-peer-password\n');
  const keys = { 'trust-anchor': good.ca, 'cert-file': good.cert, 'key-file': good.key };
  const config = {
    server: {
      'data-dir': join(dir, '${server}'),
      authentication: { type: 'basic', clients: [{ user: 'admin', password: 'operator-password' }] },
      tls: { ...keys, 'cert-required': true },
    },
    logging: { level: 'info', format: 'json' },
    'hooks-libraries': [
      {
        library: 'ha',
        parameters: {
          'high-availability': [{
            mode: 'hot-standby', 'heartbeat-delay': 200, 'max-response-delay': 2000, ...keys, 'require-client-certs': true,
            peers: names.map((name, i) => ({ name, url: url(i), role: (['primary', 'standby', 'backup'] as const)[i], 'basic-auth-user': `ha-${name}`, 'basic-auth-password-file': join(dir, 'ha.pass') })),
          }],
        },
      },
      {
        library: 'pool',
        parameters: {
          name: 'tls-pool', master: 'host1', 'pool-secret-file': join(dir, 'pool.secret'), ...keys,
          hosts: names.map((name, i) => ({ name, url: url(i) })),
          credentials: [{ user: 'root', password: 'xen' }],
          'heartbeat-interval': 100, 'assumed-dead-interval': 2000, 'database-sync-interval': 200,
        },
      },
    ],
  };
  // host3 is the relationship's backup server and the pool's third host.
  const { servers, stopAll } = await startMembers(config, names, () => rmSync(dir, { recursive: true, force: true }));
  t.after(stopAll);
  const host1 = servers.get('host1')?.url as string;
  assert.match(host1, /^https:\/\//);
  const client = { ca: good.ca, cert: good.cert, key: good.key };

  // HA heartbeats run over mutual TLS with the relationship's credentials.
  await waitFor(async () => {
    const s = await kea(host1, 'status-get', undefined, client);
    return s.body[0].arguments['high-availability'][0]['ha-servers'].remote['last-state'] === 'hot-standby';
  }, { what: 'HA partner heartbeats over TLS', timeoutMs: 60_000 });
  // Pool heartbeats too: both slaves are live on the master.
  await waitFor(async () => {
    const hosts = (await kea(host1, 'host.get_all_records', undefined, client)).body[0].arguments as Record<string, { name_label: string; metrics: string }>;
    const metrics = (await kea(host1, 'host_metrics.get_all_records', undefined, client)).body[0].arguments as Record<string, { live: boolean }>;
    return Object.values(hosts).filter((h) => metrics[h.metrics]?.live).length === 3;
  }, { what: 'three live pool hosts over TLS', timeoutMs: 60_000 });
  // A master change (two-phase commit over TLS with the pool secret) commits on every host.
  const refs = Object.fromEntries(Object.entries((await kea(host1, 'host.get_all_records', undefined, client)).body[0].arguments as Record<string, { name_label: string }>).map(([ref, h]) => [h.name_label, ref]));
  const designated = await kea(host1, 'pool.designate_new_master', { host: refs['host2'] }, client);
  assert.equal(designated.body[0].result, 0, JSON.stringify(designated.body));
  const host3 = servers.get('host3')?.url as string;
  await waitFor(async () => {
    const r = (await kea(host3, 'host.local_status', undefined, client)).body[0];
    return r.result === 0 && r.arguments['master_address'] === `127.0.0.1:${ports[1]}`;
  }, { what: 'host3 follows the new master host2', timeoutMs: 60_000 });

  // A client certificate from another CA fails the handshake; so does none at all. Both are logged.
  await assert.rejects(kea(host1, 'status-get', undefined, { ca: good.ca, cert: rogue.cert, key: rogue.key }));
  await assert.rejects(kea(host1, 'status-get', undefined, { ca: good.ca }));
  await waitFor(() => /"msgId":"CORE_TLS_REFUSED"/.test(servers.get('host1')?.logs() ?? ''), { what: 'CORE_TLS_REFUSED logged' });
  // A server certificate the client does not trust is refused by the client (the rogue CA).
  await assert.rejects(kea(host1, 'status-get', undefined, { ca: rogue.ca, cert: good.cert, key: good.key }), /certificate/);

  // A wrong pool secret, over a good TLS connection, is refused with 401 and logged.
  const wrong = await kea(host1, 'pool.get_database', {}, client, basic('liveset-pool', 'not-the-secret-at-all'));
  assert.equal(wrong.status, 401);
  await waitFor(() => /"msgId":"CORE_AUTH_REFUSED".*"user":"liveset-pool"/.test(servers.get('host1')?.logs() ?? ''), { what: 'wrong pool secret logged' });

  // liveset call takes kea-shell's --ca, --cert and --key.
  const call = (extra: string[]) => new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const child = spawn(process.execPath, cliArgs(['call', 'version-get', '--url', host1, '--user', 'admin', ...extra]), { env: { ...process.env, LIVESET_PASSWORD: 'operator-password' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => resolve({ code, out, err }));
  });
  const ok = await call(['--ca', good.ca, '--cert', good.cert, '--key', good.key]);
  assert.equal(ok.code, 0, ok.err);
  const refused = await call(['--ca', good.ca, '--cert', rogue.cert, '--key', rogue.key]);
  assert.equal(refused.code, 10, 'no answer with a certificate from another CA');
});

test('liveset scenario runs against servers with mutual TLS, given --ca, --cert and --key', { timeout: 180_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'liveset-tls-scenario-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const good = makeCa(dir, 'pair');
  const ports = await freePorts(2);
  const keys = { 'trust-anchor': good.ca, 'cert-file': good.cert, 'key-file': good.key };
  writeFileSync(join(dir, 'ha.pass'), 'ha-peer-password\n');
  const cluster = {
    server: {
      'data-dir': join(dir, '${server}'),
      authentication: { type: 'basic', clients: [{ user: 'admin', password: 'operator-password' }] },
      tls: { ...keys, 'cert-required': true },
    },
    'hooks-libraries': [{
      library: 'ha',
      parameters: {
        'high-availability': [{
          mode: 'hot-standby', 'heartbeat-delay': 200, 'max-response-delay': 2000, ...keys, 'require-client-certs': true,
          peers: ['server1', 'server2'].map((name, i) => ({
            name, url: `https://127.0.0.1:${ports[i]}/`, role: i === 0 ? 'primary' : 'standby', 'basic-auth-user': `ha-${name}`, 'basic-auth-password-file': join(dir, 'ha.pass'),
          })),
        }],
      },
    }],
  };
  writeFileSync(join(dir, 'cluster.json'), JSON.stringify(cluster));
  // Every wire a scenario speaks goes over TLS: the Kea channel, JSON-RPC over HTTP and over a
  // WebSocket (wss), and the event feed expect-event reads.
  writeFileSync(join(dir, 'tls.yaml'), [
    'name: a hot-standby pair over mutual TLS',
    'cluster: cluster.json',
    'timeout: 30s',
    'auth: { user: admin, password: operator-password }',
    'steps:',
    '  - wait-until: { server: server1, command: status-get, match: { arguments: { high-availability: [ { ha-servers: { local: { state: hot-standby } } } ] } } }',
    '  - send: { server: server2, command: version-get, via: jsonrpc }',
    '    expect: { result: {} }',
    '  - send: { server: server1, command: version-get, via: ws }',
    '    expect: { result: {} }',
    '  - send: { server: server1, command: ha-maintenance-start }',
    '    expect: { result: 0 }',
    '  - expect-event: { server: server2, event: ha-state-transition, match: { new-state: in-maintenance } }',
    '  - send: { server: server1, command: ha-maintenance-cancel }',
    '    expect: { result: 0 }',
    '  - wait-until: { server: server2, command: status-get, match: { arguments: { high-availability: [ { ha-servers: { local: { state: hot-standby } } } ] } } }',
    // The pair's failure path over TLS: kill -9 the primary, the standby takes over; restarted, the
    // primary finds its partner again through a fresh TLS session.
    '  - kill: server1',
    '  - wait-until: { server: server2, command: status-get, match: { arguments: { high-availability: [ { ha-servers: { local: { state: partner-down } } } ] } } }',
    '  - start: server1',
    '  - wait-until: { server: server1, command: status-get, match: { arguments: { high-availability: [ { ha-servers: { local: { state: hot-standby } } } ] } } }',
    '  - wait-until: { server: server2, command: status-get, match: { arguments: { high-availability: [ { ha-servers: { local: { state: hot-standby } } } ] } } }',
    '',
  ].join('\n'));
  const run = (extra: string[]) => new Promise<{ code: number | null; err: string }>((resolve) => {
    const child = spawn(process.execPath, cliArgs(['scenario', join(dir, 'tls.yaml'), ...extra]), { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stdout.on('data', (d: Buffer) => (err += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGINT'), 150_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, err });
    });
  });
  const ok = await run(['--ca', good.ca, '--cert', good.cert, '--key', good.key]);
  assert.equal(ok.code, 0, ok.err);
  assert.match(ok.err, /PASSED|passed/);
  const usage = await run(['--ca', good.ca, '--cert', good.cert]);
  assert.equal(usage.code, 2);
  assert.match(usage.err, /--cert and --key must be given together/);
});
