// Operators and peers are never confused (issue 10): peer-only commands need the peer credential
// (the pool secret, an HA relationship's basic-auth) on every wire; emergency and configuration
// calls need an operator; a server open to the network without authentication does not start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { freePorts, keaCommand, startMembers, waitFor } from '../helpers/liveset.ts';
import { cliArgs } from '../../src/cli/runtime-info.ts';

/** Runs the liveset CLI to completion. */
function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, cliArgs(args), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const OPERATOR = basic('admin', 'operator-password');

test('peer-only commands are refused for anonymous and operator callers and accepted from a peer', { timeout: 180_000 }, async (t) => {
  const ports = await freePorts(3);
  const dir = mkdtempSync(join(tmpdir(), 'liveset-callers-'));
  writeFileSync(join(dir, 'ha.pass'), 'ha-peer-password\n');
  const names = ['host1', 'host2'];
  const url = (i: number) => `http://127.0.0.1:${ports[i]}/`;
  const config = {
    server: { 'data-dir': join(dir, '${server}'), authentication: { type: 'basic', clients: [{ user: 'admin', password: 'operator-password' }] } },
    logging: { level: 'info', format: 'json' },
    'hooks-libraries': [
      {
        library: 'ha',
        parameters: {
          'high-availability': [{
            mode: 'hot-standby', 'heartbeat-delay': 200, 'max-response-delay': 2000,
            peers: names.map((name, i) => ({ name, url: url(i), role: i === 0 ? 'primary' : 'standby', 'basic-auth-user': `ha-${name}`, 'basic-auth-password-file': join(dir, 'ha.pass') })),
          }],
        },
      },
      {
        library: 'pool',
        parameters: {
          name: 'secure-pool', master: 'host1', 'pool-secret-file': join(dir, 'pool.secret'),
          hosts: names.map((name, i) => ({ name, url: url(i) })),
          credentials: [{ user: 'root', password: 'xen' }],
          'heartbeat-interval': 100, 'assumed-dead-interval': 2000, 'database-sync-interval': 200,
        },
      },
    ],
  };
  const { servers, stopAll } = await startMembers(config, names, () => rmSync(dir, { recursive: true, force: true }));
  t.after(stopAll);
  const host1 = servers.get('host1')?.url as string;
  assert.equal(statSync(join(dir, 'pool.secret')).mode & 0o777, 0o600, 'the pool secret was created, mode 0600');
  const { readFileSync } = await import('node:fs');
  const POOL = basic('liveset-pool', readFileSync(join(dir, 'pool.secret'), 'utf8').trim());
  const HA = basic('ha-host1', 'ha-peer-password');

  // The peers found each other with their credentials: HA heartbeats flow, the slave is live.
  await waitFor(async () => {
    const s = await keaCommand(host1, 'status-get', undefined, { headers: { Authorization: OPERATOR } });
    return s.arguments['high-availability'][0]['ha-servers'].remote['last-state'] === 'hot-standby';
  }, { what: 'partner heartbeats accepted', timeoutMs: 60_000 });

  const peerOnly: [string, Record<string, unknown>, string][] = [
    ['ha-heartbeat', {}, HA], ['ha-maintenance-notify', { cancel: true }, HA], ['ha-sync-complete-notify', {}, HA],
    ['host.tickle_heartbeat', { host: 'OpaqueRef:stranger', stuff: {} }, POOL], ['host.propose_new_master', { address: 'nowhere:1', manual: true }, POOL],
    ['host.commit_new_master', { address: 'nowhere:1' }, POOL], ['host.abort_new_master', { address: 'nowhere:1' }, POOL],
    ['host.local_execute', { op: 'host.get_servertime' }, POOL], ['pool.get_database', {}, POOL],
  ];
  for (const [command, args, peer] of peerOnly) {
    // Anonymous: the transport refuses it (operators are configured).
    const anonymous = await fetch(host1, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ command, arguments: args }) });
    assert.equal(anonymous.status, 401, command);
    // An operator: the dispatcher refuses it, on the Kea channel and on JSON-RPC.
    const asOperator = await keaCommand(host1, command, args, { headers: { Authorization: OPERATOR }, errorDetail: true });
    assert.equal(asOperator.result, 1, command);
    assert.equal(asOperator.error, 'PERMISSION_DENIED', command);
    assert.match(asOperator.text ?? '', /may be called only by a peer/);
    const overRpc = await fetch(`${host1}jsonrpc`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: OPERATOR }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: command, params: args }) });
    assert.equal(((await overRpc.json()) as { error?: { message: string } }).error?.message, 'PERMISSION_DENIED', command);
    // The other library's peer credential does not do either.
    const wrongPeer = await keaCommand(host1, command, args, { headers: { Authorization: peer === POOL ? HA : POOL }, errorDetail: true });
    assert.equal(wrongPeer.error, 'PERMISSION_DENIED', `${command} with the other library's credential`);
    // The peer: accepted (the command runs; its own answer may still be a domain error).
    const asPeer = await keaCommand(host1, command, args, { headers: { Authorization: peer }, errorDetail: true });
    assert.notEqual(asPeer.error, 'PERMISSION_DENIED', command);
  }
  // Emergency and configuration calls need an operator: a peer is refused.
  for (const command of ['pool.emergency_transition_to_master', 'shutdown', 'config-reload']) {
    const a = await keaCommand(host1, command, {}, { headers: { Authorization: POOL }, errorDetail: true });
    assert.equal(a.error, 'PERMISSION_DENIED', command);
    assert.match(a.text ?? '', /may be called only by an operator/);
  }
  // liveset call takes the operator's password from a file or the environment, never argv.
  writeFileSync(join(dir, 'admin.pass'), 'operator-password\n');
  const viaFile = await cli(['call', 'status-get', '--url', host1, '--user', 'admin', '--password-file', join(dir, 'admin.pass')]);
  assert.equal(viaFile.code, 0, viaFile.err);
  const viaEnv = await cli(['call', 'status-get', '--url', host1], { LIVESET_USER: 'admin', LIVESET_PASSWORD: 'operator-password' });
  assert.equal(viaEnv.code, 0, viaEnv.err);
  const wrongEnv = await cli(['call', 'status-get', '--url', host1], { LIVESET_USER: 'admin', LIVESET_PASSWORD: 'nope' });
  assert.match(wrongEnv.out, /"result": ?401/);
  // A wrong pool secret is refused before anything runs, and logged.
  const wrong = await fetch(host1, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: basic('liveset-pool', 'not-the-secret-at-all') }, body: '{"command":"pool.get_database"}' });
  assert.equal(wrong.status, 401);
  await waitFor(() => /"msgId":"CORE_AUTH_REFUSED".*"user":"liveset-pool"/.test(servers.get('host1')?.logs() ?? ''), { what: 'refusal logged' });
  assert.match(servers.get('host1')?.logs() ?? '', /"msgId":"CORE_CALLER_REFUSED".*"command":"pool.get_database"/);
});

test('a server listening beyond loopback without authentication refuses to start unless insecure: true', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'liveset-insecure-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const [port] = await freePorts(1);
  const file = join(dir, 'liveset.json');
  const run = () => new Promise<{ code: number | null; err: string }>((resolve) => {
    const child = spawn(process.execPath, cliArgs(['serve', '-c', file, '--log-format', 'json']), { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      err += d.toString();
      if (/CORE_LISTENING/.test(err)) child.kill('SIGTERM');
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => resolve({ code, err }));
  });
  writeFileSync(file, JSON.stringify({ server: { listen: `http://0.0.0.0:${port}/` } }));
  const refused = await run();
  assert.equal(refused.code, 1);
  assert.match(refused.err, /server\.listen: 0\.0\.0\.0:\d+ is not a loopback address and server\.authentication is not set/);
  // Started once, on an OS-assigned port, and stopped as soon as it listens.
  writeFileSync(file, JSON.stringify({ server: { listen: 'http://0.0.0.0:0/', insecure: true } }));
  const started = await run();
  assert.match(started.err, /"msgId":"CORE_INSECURE"/);
});
