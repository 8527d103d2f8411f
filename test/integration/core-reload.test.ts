// config-reload reconfigures in place: a change that leaves the libraries' parameters alone must
// not disturb them (no HA restart in waiting, no shutting-down pool heartbeat that makes the
// master mark this host not live); a library whose parameters changed takes them in place when it
// can (ha: timers) and is restarted alone when it cannot (ha: another relationship).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts, keaCommand, startLiveset, startMembers, waitFor } from '../helpers/liveset.ts';

const haState = async (url: string): Promise<string> =>
  (await keaCommand(url, 'status-get')).arguments['high-availability'][0]['ha-servers'].local.state;

/** live flags of every pool host as the master sees them. */
async function liveness(master: string): Promise<boolean[]> {
  const metrics = await keaCommand(master, 'host_metrics.get_all_records');
  return Object.values(metrics.arguments as Record<string, { live: boolean }>).map((m) => m.live);
}

test('config-reload with only a log-level change keeps HA in its state and every pool host live', async (t) => {
  const ports = await freePorts(2);
  const urls = ports.map((p) => `http://127.0.0.1:${p}/`);
  const dataRoot = mkdtempSync(join(tmpdir(), 'liveset-reload-'));
  const config = {
    server: { 'data-dir': join(dataRoot, '${server}') },
    logging: { level: 'info', format: 'json' },
    'hooks-libraries': [
      {
        library: 'ha',
        parameters: {
          'high-availability': [{
            mode: 'load-balancing', 'heartbeat-delay': 100, 'max-response-delay': 1000,
            peers: [{ name: 'server1', url: urls[0], role: 'primary' }, { name: 'server2', url: urls[1], role: 'secondary' }],
          }],
        },
      },
      {
        library: 'pool',
        parameters: {
          name: 'reload-pool', master: 'server1',
          hosts: [{ name: 'server1', url: urls[0] }, { name: 'server2', url: urls[1] }],
          credentials: [{ user: 'root', password: 'secret' }],
          'heartbeat-interval': 100, 'assumed-dead-interval': 3000,
        },
      },
    ],
  };
  const { servers, stopAll } = await startMembers(config, ['server1', 'server2'], () => rmSync(dataRoot, { recursive: true, force: true }));
  t.after(stopAll);
  const [s1, s2] = [servers.get('server1')!, servers.get('server2')!];
  await waitFor(async () => (await haState(s1.url)) === 'load-balancing' && (await haState(s2.url)) === 'load-balancing', { timeoutMs: 60_000, what: 'both in load-balancing' });
  await waitFor(async () => (await liveness(s1.url)).every(Boolean), { timeoutMs: 30_000, what: 'both pool hosts live' });

  // The file both servers were started from, with only the log level changed; server2 (a pool slave) reloads it.
  const file = JSON.parse(readFileSync(s2.configFile, 'utf8')) as typeof config;
  writeFileSync(s2.configFile, JSON.stringify({ ...file, logging: { ...file.logging, level: 'debug' } }, null, 2));
  const logsBefore = s2.logs().length;
  assert.deepEqual(await keaCommand(s2.url, 'config-reload'), { result: 0, text: 'Configuration successful.' });

  // Right after the answer and for a while after: nothing restarted, nobody marked not live.
  const until = Date.now() + 2_000;
  while (Date.now() < until) {
    assert.equal(await haState(s2.url), 'load-balancing', 'HA kept its state (a restart would be in waiting)');
    assert.deepEqual(await liveness(s1.url), [true, true], 'the master never saw server2 go down');
    await new Promise((r) => setTimeout(r, 100));
  }
  await waitFor(() => s2.logs().slice(logsBefore).includes('CORE_CONFIG_APPLIED'), { what: 'the reload logged' });
  const reloadLogs = s2.logs().slice(logsBefore);
  assert.doesNotMatch(reloadLogs, /CORE_LIBRARY_UNLOADED|HA_SERVICE_STOPPED|"shutting-down"/);
  assert.match(reloadLogs, /"msgId":"CORE_CONFIG_APPLIED"[^\n]*"libraries":"kept"/);

  // A changed timer is taken in place: HA keeps its state, nothing restarts.
  const tuned = JSON.parse(readFileSync(s2.configFile, 'utf8')) as typeof config;
  const haParams = (c: typeof config) => (c['hooks-libraries'][0]!.parameters as { 'high-availability': Record<string, unknown>[] })['high-availability'][0]!;
  haParams(tuned)['max-response-delay'] = 1500;
  writeFileSync(s2.configFile, JSON.stringify(tuned, null, 2));
  const tunedMark = s2.logs().length;
  assert.deepEqual(await keaCommand(s2.url, 'config-reload'), { result: 0, text: 'Configuration successful.' });
  await waitFor(() => /"msgId":"CORE_LIBRARY_RECONFIGURED","library":"ha","restarted":false/.test(s2.logs().slice(tunedMark)), { what: 'ha reconfigured in place' });
  const tunedLogs = s2.logs().slice(tunedMark);
  assert.match(tunedLogs, /"msgId":"HA_RECONFIGURED"[^\n]*"changed":\["max-response-delay"\]/);
  assert.doesNotMatch(tunedLogs, /CORE_LIBRARY_UNLOADED|HA_SERVICE_STOPPED|HA_SERVICE_STARTED/);
  assert.equal(await haState(s2.url), 'load-balancing');

  // The pool master takes new operator credentials and a new sweep timer in place: the old password
  // stops working, the new one works, and no host is marked not live.
  const poolParams = (c: typeof config) => c['hooks-libraries'][1]!.parameters as Record<string, unknown>;
  const login = async (pwd: string) => (await keaCommand(s1.url, 'session.login_with_password', { uname: 'root', pwd })).result;
  assert.equal(await login('secret'), 0);
  const repass = JSON.parse(readFileSync(s1.configFile, 'utf8')) as typeof config;
  poolParams(repass)['credentials'] = [{ user: 'root', password: 'rotated' }];
  poolParams(repass)['assumed-dead-interval'] = 4000;
  writeFileSync(s1.configFile, JSON.stringify(repass, null, 2));
  const poolMark = s1.logs().length;
  assert.deepEqual(await keaCommand(s1.url, 'config-reload'), { result: 0, text: 'Configuration successful.' });
  await waitFor(() => /"msgId":"CORE_LIBRARY_RECONFIGURED","library":"pool","restarted":false/.test(s1.logs().slice(poolMark)), { what: 'pool reconfigured in place' });
  assert.match(s1.logs().slice(poolMark), /"msgId":"POOL_RECONFIGURED"[^\n]*"changed":\["credentials","assumed-dead-interval"\]/);
  assert.doesNotMatch(s1.logs().slice(poolMark), /CORE_LIBRARY_UNLOADED|POOL_HOST_NOT_LIVE/);
  assert.notEqual(await login('secret'), 0, 'the old password is refused');
  assert.equal(await login('rotated'), 0, 'the new password works');
  assert.deepEqual(await liveness(s1.url), [true, true]);

  // Another relationship (here: a peer's auto-failover) restarts that library only: pool keeps running.
  const changed = JSON.parse(readFileSync(s2.configFile, 'utf8')) as typeof config;
  (haParams(changed)['peers'] as Record<string, unknown>[])[0]!['auto-failover'] = false;
  writeFileSync(s2.configFile, JSON.stringify(changed, null, 2));
  const mark = s2.logs().length;
  assert.deepEqual(await keaCommand(s2.url, 'config-reload'), { result: 0, text: 'Configuration successful.' });
  await waitFor(() => /"msgId":"CORE_LIBRARY_RECONFIGURED","library":"ha","restarted":true/.test(s2.logs().slice(mark)), { what: 'ha restarted' });
  const restartLogs = s2.logs().slice(mark);
  assert.match(restartLogs, /"msgId":"CORE_LIBRARY_UNLOADED","library":"ha"/);
  // (The file is shared, so server2 also takes the pool changes made above: in place.)
  assert.doesNotMatch(restartLogs, /"msgId":"CORE_LIBRARY_UNLOADED","library":"pool"|"library":"pool","restarted":true/, 'pool not restarted');
  assert.deepEqual(await liveness(s1.url), [true, true]);
  await waitFor(async () => (await haState(s2.url)) === 'load-balancing', { timeoutMs: 60_000, what: 'ha back in load-balancing' });
});

test('a reload whose rollback fails too stops the server with a clear error instead of running without libraries', async (t) => {
  const [port] = await freePorts(1);
  const dir = mkdtempSync(join(tmpdir(), 'liveset-rollback-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const marker = join(dir, 'refuse');
  const library = fileURLToPath(new URL('../fixtures/marker-library.mjs', import.meta.url));
  const config = (generation: number) => ({
    server: { listen: `http://127.0.0.1:${port}/`, 'hooks-directory': dirname(library) },
    logging: { level: 'info', format: 'json' },
    'hooks-libraries': [{ library, parameters: { 'refuse-if-exists': marker, generation } }],
  });
  const s = await startLiveset({ config: config(1) });
  t.after(() => s.stop());
  writeFileSync(s.configFile, JSON.stringify(config(2)));
  writeFileSync(marker, ''); // from now on the library loads neither with the new nor with the old parameters
  const answer = await keaCommand(s.url, 'config-reload');
  assert.equal(answer.result, 1);
  assert.match(answer.text ?? '', /rollback failed: .*refuse exists; the server is stopping/);
  assert.equal(await s.exited(), 1, 'exits with an error status');
  assert.match(s.logs(), /"level":60[^\n]*"msgId":"CORE_ROLLBACK_FAILED"/);
});
