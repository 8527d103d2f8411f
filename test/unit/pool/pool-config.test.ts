import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { checkPoolConfig, parsePoolConfig, poolMembers } from '../../../src/hook-libs/pool/pool-config.ts';
import { SchemaValidator } from '../../../src/core/schema-validator.ts';
import schema from '../../../schemas/libraries/pool.schema.json' with { type: 'json' };
import { poolParams } from './sim-pool.ts';

const validate = new SchemaValidator().compile(schema as Record<string, unknown>);

test('defaults are xapi\'s: 30 s heartbeats, 600 s assumed dead, 600 s proposals; addresses from the urls', () => {
  const c = parsePoolConfig({ name: 'p', master: 'a', hosts: [{ name: 'a', url: 'http://10.0.0.1:8000/' }], credentials: [{ user: 'u', password: 'p' }] });
  assert.equal(c.heartbeatIntervalMs, 30_000);
  assert.equal(c.assumedDeadMs, 600_000);
  assert.equal(c.proposalTimeoutMs, 600_000);
  assert.equal(c.databaseSyncMs, 300_000);
  assert.equal(c.hosts[0]?.address, '10.0.0.1:8000');
  assert.deepEqual(c.srTypes, { gfs2: ['corosync'], etcd: ['etcd'] });
});

test('members come from the hosts; cross-field problems name the key', () => {
  assert.deepEqual(poolMembers(poolParams()).members.map((m) => m.name), ['host1', 'host2', 'host3']);
  assert.deepEqual(checkPoolConfig(poolParams(), 'host1'), []);
  const bad = poolParams({
    master: 'nobody',
    hosts: [{ name: 'a', url: 'http://127.0.0.1:1/' }, { name: 'a', url: 'http://127.0.0.1:1/' }],
    'heartbeat-interval': 500, 'assumed-dead-interval': 400,
  });
  const problems = checkPoolConfig(bad, 'zed');
  assert.ok(problems.some((p) => p.startsWith("hosts: host name 'a'")));
  assert.ok(problems.some((p) => p.startsWith("hosts: address '127.0.0.1:1'")));
  assert.ok(problems.some((p) => p.startsWith("master: 'nobody'")));
  assert.ok(problems.some((p) => p.includes("this server 'zed'")));
  assert.ok(problems.some((p) => p.startsWith('assumed-dead-interval')));
});

test('the schema refuses unknown keys and bad values, and accepts examples/pool-3.yaml', () => {
  assert.deepEqual(validate(poolParams()), []);
  assert.notDeepEqual(validate(poolParams({ 'heart-beat': 1 })), []);
  assert.notDeepEqual(validate(poolParams({ 'heartbeat-interval': 'fast' })), []);
  assert.notDeepEqual(validate(poolParams({ hosts: [{ name: 'a b', url: 'http://x/' }] })), []);
  const example = YAML.parse(readFileSync(new URL('../../../examples/pool-3.yaml', import.meta.url), 'utf8')) as {
    'hooks-libraries': { library: string; parameters: unknown }[];
  };
  const params = example['hooks-libraries'].find((l) => l.library === 'pool')?.parameters;
  assert.deepEqual(validate(params), []);
  assert.deepEqual(checkPoolConfig(params, 'host2'), []);
});

test('every call the library registers has a schema file that compiles, with positional names it declares', async () => {
  const { SimPool } = await import('./sim-pool.ts');
  const sim = new SimPool(poolParams(), true);
  await sim.start('host1');
  try {
    const names = [...(sim.handlers.get('host1')?.keys() ?? [])];
    assert.ok(names.length > 40);
    const validator = new SchemaValidator();
    for (const name of names) {
      const file = JSON.parse(readFileSync(new URL(`../../../schemas/commands/${name}.json`, import.meta.url), 'utf8')) as {
        title: string; arguments: { properties: Record<string, unknown> }; positional?: string[];
      };
      assert.equal(file.title, name);
      validator.compile(file.arguments as unknown as Record<string, unknown>);
      for (const p of file.positional ?? []) assert.ok(p in file.arguments.properties, `${name}: positional '${p}' is not an argument`);
    }
  } finally {
    await sim.stopAll();
  }
});

test('a pool holds at most max-hosts hosts: xapi\'s 64 unless raised', () => {
  const hosts = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `h${i}`, url: `http://127.0.0.1:${10_000 + i}/` }));
  assert.equal(parsePoolConfig(poolParams()).maxHosts, 64);
  assert.deepEqual(checkPoolConfig(poolParams({ master: 'h0', hosts: hosts(64) }), 'h0'), []);
  assert.deepEqual(checkPoolConfig(poolParams({ master: 'h0', hosts: hosts(65) }), 'h0'), ["hosts: 65 hosts, more than max-hosts (64; xapi's limit is 64)"]);
  const big = poolParams({ master: 'h0', hosts: hosts(1001), 'max-hosts': 1001 });
  assert.deepEqual(validate(big), []);
  assert.deepEqual(checkPoolConfig(big, 'h0'), []);
  assert.notDeepEqual(validate(poolParams({ 'max-hosts': 0 })), []);
});

test('management-url: another address than every host\'s, with the hosts\' scheme', () => {
  const hosts = poolParams().hosts as { url: string }[];
  assert.deepEqual(checkPoolConfig(poolParams({ 'management-url': 'http://127.0.0.1:9/' }), 'host1'), []);
  const own = checkPoolConfig(poolParams({ 'management-url': hosts[1]!.url }), 'host1');
  assert.ok(own.some((p) => p.startsWith('management-url:') && p.includes("host host2's own url")), own.join('; '));
  const scheme = checkPoolConfig(poolParams({ 'management-url': 'https://127.0.0.1:9/' }), 'host1');
  assert.ok(scheme.some((p) => p.startsWith('management-url:') && p.includes('both must be the same')), scheme.join('; '));
  assert.notDeepEqual(validate(poolParams({ 'management-url': 'ftp://127.0.0.1:9/' })), []);
  assert.equal(parsePoolConfig(poolParams({ 'management-url': 'http://127.0.0.1:9/' })).managementUrl, 'http://127.0.0.1:9/');
});
