// Configuration: the schema rejects shapes and types, the parser rejects what Kea's parser rejects,
// each message naming the entry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import schema from '../../../schemas/libraries/ha.schema.json' with { type: 'json' };
import { haMembers, parseHaConfig } from '../../../src/hook-libs/ha/ha-config-parser.ts';

const validate = new Ajv({ allErrors: true, keywords: ['x-trusted', 'x-secret'] }).compile(schema);

type Rel = Record<string, unknown>;
const lbPeers = [
  { name: 'server1', url: 'http://127.0.0.1:8001/', role: 'primary' },
  { name: 'server2', url: 'http://127.0.0.1:8002/', role: 'secondary' },
];
const params = (rel: Rel): unknown => ({ 'high-availability': [{ mode: 'load-balancing', peers: lbPeers, ...rel }] });

function problems(rel: Rel, server = 'server1'): string[] {
  const p = params(rel);
  if (!validate(p)) return (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);
  const r = parseHaConfig(p, server);
  return r.ok ? [] : [...r.problems];
}

function rejects(rel: Rel, expected: RegExp, server = 'server1'): void {
  const found = problems(rel, server);
  assert.ok(found.some((m) => expected.test(m)), `expected ${expected}, got ${JSON.stringify(found)}`);
}

test('defaults are Kea defaults; peers ordered primary first', () => {
  const r = parseHaConfig(params({ peers: [...lbPeers].reverse() }), 'server2');
  assert.ok(r.ok);
  const c = r.config;
  assert.equal(c.thisServerName, 'server2');
  assert.deepEqual(
    [c.heartbeatDelay, c.maxResponseDelay, c.maxAckDelay, c.maxUnackedClients, c.maxRejectedLeaseUpdates, c.delayedUpdatesLimit],
    [10000, 60000, 10000, 10, 10, 100],
  );
  assert.deepEqual([c.sendLeaseUpdates, c.syncLeases, c.syncTimeout, c.syncPageLimit, c.waitBackupAck], [true, true, 60000, 10000, false]);
  assert.deepEqual(c.peers.map((p) => p.name), ['server1', 'server2']);
  assert.equal(c.peers[0]!.autoFailover, true);
  assert.deepEqual(c.pauseRules, {});
});

test('delayed-updates-limit defaults to 0 outside load-balancing', () => {
  const r = parseHaConfig(
    { 'high-availability': [{ mode: 'hot-standby', peers: [lbPeers[0], { ...lbPeers[1], role: 'standby' }] }] },
    'server1',
  );
  assert.ok(r.ok);
  assert.equal(r.config.delayedUpdatesLimit, 0);
});

test('state-machine pause rules and notify are parsed', () => {
  const r = parseHaConfig(
    params({ 'state-machine': { states: [{ state: 'waiting', pause: 'once' }, { state: 'ready', pause: 'always' }, { state: 'syncing' }] }, notify: { script: './n.sh' } }),
    'server1',
  );
  assert.ok(r.ok);
  assert.deepEqual(r.config.pauseRules, { waiting: 'once', ready: 'always', syncing: 'never' });
  assert.deepEqual(r.config.notify, { script: './n.sh', timeoutMs: 5000 });
});

test('this-server-name from the file, or from --server', () => {
  assert.deepEqual(haMembers(params({ 'this-server-name': ' server2 ' })).thisServer, 'server2');
  assert.equal(haMembers(params({})).thisServer, undefined);
  assert.deepEqual(haMembers(params({})).members, [
    { name: 'server1', url: 'http://127.0.0.1:8001/' },
    { name: 'server2', url: 'http://127.0.0.1:8002/' },
  ]);
  const r = parseHaConfig(params({ 'this-server-name': 'server2' }), 'server2');
  assert.ok(r.ok && r.config.thisServerName === 'server2');
});

test('rejects: this server not among the peers', () => rejects({}, /high-availability\[0\]: no peer configuration specified for the 'server9'/, 'server9'));
test('rejects: empty this-server-name', () => rejects({ 'this-server-name': '  ' }, /'this-server-name' value must not be empty/));
test('rejects: this-server-name contradicting --server', () => rejects({ 'this-server-name': 'server2' }, /'server2' but this server was started as 'server1'/));
test('rejects: duplicate peer names', () =>
  rejects({ peers: [...lbPeers, { name: 'server2', url: 'http://127.0.0.1:8003/', role: 'backup' }] }, /peers\[2\]: peer with name 'server2' already specified/));
test('rejects: empty peer name', () => rejects({ peers: [...lbPeers, { name: ' ', url: 'http://127.0.0.1:8003/', role: 'backup' }] }, /peers\[2\]: peer name must not be empty/));
test('rejects: two primaries', () =>
  rejects({ peers: [...lbPeers, { name: 'server3', url: 'http://127.0.0.1:8003/', role: 'primary' }] }, /multiple primary servers specified/));
test('rejects: standby in load-balancing', () =>
  rejects({ peers: [...lbPeers, { name: 'server3', url: 'http://127.0.0.1:8003/', role: 'standby' }] }, /standby servers not allowed in the load balancing configuration/));
test('rejects: load-balancing without a secondary', () =>
  rejects({ peers: [lbPeers[0]] }, /secondary server required in the load balancing configuration/));
test('rejects: secondary in hot-standby', () => rejects({ mode: 'hot-standby' }, /secondary servers not allowed in the hot standby configuration/));
test('rejects: hot-standby without standby', () => rejects({ mode: 'hot-standby' }, /standby server required in the hot standby configuration/));
test('rejects: passive-backup with a secondary', () => rejects({ mode: 'passive-backup' }, /secondary servers not allowed in the passive backup configuration/));
test('rejects: passive-backup without primary', () =>
  rejects({ mode: 'passive-backup', peers: [{ ...lbPeers[0], role: 'backup' }] }, /primary server required in the passive backup configuration/));
test('rejects: unknown role', () => rejects({ peers: [{ ...lbPeers[0], role: 'leader' }, lbPeers[1]] }, /\/high-availability\/0\/peers\/0\/role/));
test('rejects: unknown mode', () => rejects({ mode: 'active-active' }, /\/high-availability\/0\/mode/));
test('rejects: wait-backup-ack in load-balancing', () => rejects({ 'wait-backup-ack': true }, /'wait-backup-ack' must be set to false in the load balancing configuration/));
test('rejects: delayed-updates-limit in hot-standby', () =>
  rejects({ mode: 'hot-standby', peers: [lbPeers[0], { ...lbPeers[1], role: 'standby' }], 'delayed-updates-limit': 5 }, /'delayed-updates-limit' must be set to 0 in the hot standby configuration/));
test('rejects: pause rule for an unknown state', () =>
  rejects({ 'state-machine': { states: [{ state: 'waiting' }, { state: 'sleeping', pause: 'once' }] } }, /state-machine.states\[1\]: unknown state sleeping/));
test('rejects: bad pause value', () =>
  rejects({ 'state-machine': { states: [{ state: 'ready', pause: 'sometimes' }] } }, /states\[0\]: unsupported value sometimes of 'pause' parameter/));
test('rejects: duplicated pause rule', () =>
  rejects({ 'state-machine': { states: [{ state: 'ready' }, { state: 'ready', pause: 'always' }] } }, /states\[1\]: duplicated configuration for the 'ready' state/));
test("accepts 'unavailable' in the state machine (a Kea quirk) with no effect", () => {
  const r = parseHaConfig(params({ 'state-machine': { states: [{ state: 'unavailable', pause: 'always' }] } }), 'server1');
  assert.ok(r.ok);
  assert.deepEqual(r.config.pauseRules, {});
});
test('rejects: hostname instead of an IP literal', () =>
  rejects({ peers: [{ ...lbPeers[0], url: 'http://localhost:8001/' }, lbPeers[1]] }, /peers\[0\]: bad url 'http:\/\/localhost:8001\/': host 'localhost' is not an IP address literal for server server1/));
test('rejects: https without TLS', () => rejects({ peers: [{ ...lbPeers[0], url: 'https://127.0.0.1:8001/' }, lbPeers[1]] }, /https scheme is not supported for server server1/));
test('rejects: garbage url', () => rejects({ peers: [{ ...lbPeers[0], url: 'not a url' }, lbPeers[1]] }, /bad url 'not a url': not a valid URL/));
test('rejects: user with a colon', () => rejects({ peers: [{ ...lbPeers[0], 'basic-auth-user': 'a:b' }, lbPeers[1]] }, /user 'a:b' must not contain a ':' in peer 'server1'/));
test('rejects: negative and oversized timers, unknown keys (schema)', () => {
  rejects({ 'heartbeat-delay': -1 }, /\/high-availability\/0\/heartbeat-delay must be >= 0/);
  rejects({ 'max-response-delay': 2 ** 32 }, /max-response-delay must be <= 4294967295/);
  rejects({ 'heartbeat-dely': 5 }, /must NOT have additional properties/);
});
test('rejects: more than one relationship, and none', () => {
  const two = { 'high-availability': [params({}) as { 'high-availability': unknown[] }].flatMap((p) => [...p['high-availability'], ...p['high-availability']]) };
  const r = parseHaConfig(two, 'server1');
  assert.ok(!r.ok && /2 relationships configured; liveset supports exactly one/.test(r.problems[0]!));
  assert.ok(!validate({ 'high-availability': [] }));
});
