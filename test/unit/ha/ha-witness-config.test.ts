// Witness configuration: defaults, checks naming the entry, witnesses as cluster members, and a
// witness member that runs no HA service.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import schema from '../../../schemas/libraries/ha.schema.json' with { type: 'json' };
import { haMembers, isWitnessOnly, parseHaConfig } from '../../../src/hook-libs/ha/ha-config-parser.ts';

const validate = new Ajv({ allErrors: true, keywords: ['x-trusted', 'x-secret'] }).compile(schema);
const peers = [
  { name: 'server1', url: 'http://127.0.0.1:8001/', role: 'primary' },
  { name: 'server2', url: 'http://127.0.0.1:8002/', role: 'secondary' },
];
const params = (rel: Record<string, unknown>, mode = 'load-balancing'): unknown => ({ 'high-availability': [{ mode, peers, 'max-response-delay': 3000, ...rel }] });
const w1 = { name: 'w1', url: 'http://127.0.0.1:8101/' };

test('witnesses: defaults for timeout and margin; credentials kept', () => {
  const p = params({ witnesses: [{ ...w1, 'basic-auth-user': 'u', 'basic-auth-password': 'p' }] });
  assert.ok(validate(p));
  const r = parseHaConfig(p, 'server1');
  assert.ok(r.ok);
  assert.deepEqual(r.config.witness, { members: [{ name: 'w1', url: w1.url, basicAuth: { user: 'u', password: 'p' } }], timeoutMs: 3000, marginMs: 300 });
  const explicit = parseHaConfig(params({ witnesses: [w1], 'witness-timeout': 250, 'witness-margin': 40 }), 'server1');
  assert.ok(explicit.ok);
  assert.equal(explicit.config.witness?.timeoutMs, 250);
  assert.equal(explicit.config.witness?.marginMs, 40);
});

test('without witnesses the parsed configuration has no witness settings', () => {
  const r = parseHaConfig(params({}), 'server1');
  assert.ok(r.ok);
  assert.equal('witness' in r.config, false);
});

test('witness problems name the entry', () => {
  const cases: [Record<string, unknown>, RegExp, string?][] = [
    [{ witnesses: [{ name: ' ', url: w1.url }] }, /witnesses\[0\]: witness name must not be empty/],
    [{ witnesses: [w1, { ...w1 }] }, /witnesses\[1\]: witness with name 'w1' already specified/],
    [{ witnesses: [{ name: 'server2', url: w1.url }] }, /witnesses\[0\]: 'server2' is a peer/],
    [{ witnesses: [{ name: 'w1', url: 'http://witness.example/' }] }, /witnesses\[0\]: bad url .* not an IP address literal for witness w1/],
    [{ witnesses: [{ ...w1, 'basic-auth-user': 'a:b' }] }, /witnesses\[0\]: user 'a:b' must not contain a ':'/],
  ];
  for (const [rel, expected] of cases) {
    const r = parseHaConfig(params(rel), 'server1');
    assert.ok(!r.ok && r.problems.some((m) => expected.test(m)), `${expected}: ${JSON.stringify(r)}`);
  }
  const pb = parseHaConfig({ 'high-availability': [{ mode: 'passive-backup', peers: [peers[0]], witnesses: [w1] }] }, 'server1');
  assert.ok(!pb.ok && pb.problems.some((m) => /passive-backup has none/.test(m)));
  assert.equal(validate(params({ witnesses: [{ ...w1, port: 1 }] })), false, 'unknown witness keys are refused by the schema');
  assert.equal(validate(params({ witnesses: [] })), false, 'an empty list is refused');
});

test('witnesses are members of the cluster; a witness member runs no HA service', () => {
  const p = params({ witnesses: [w1] });
  assert.deepEqual(haMembers(p).members.map((m) => m.name), ['server1', 'server2', 'w1']);
  assert.equal(isWitnessOnly(p, 'w1'), true);
  assert.equal(isWitnessOnly(p, 'server1'), false);
  assert.equal(isWitnessOnly(p, 'stranger'), false);
});
