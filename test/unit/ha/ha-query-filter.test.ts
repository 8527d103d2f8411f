// Kea's load-balancing split (RFC 3074 loadb hash): which scope a client key belongs to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hexKey, loadBalancingHash, loadbTable, scopeForKey } from '../../../src/hook-libs/ha/query-filter.ts';
import { config } from './ha-fixtures.ts';

test('the table is a permutation of 0..255', () => {
  assert.deepEqual([...loadbTable()].sort((a, b) => a - b), Array.from({ length: 256 }, (_, i) => i));
});

test('hash: length seeds it, bytes fold in from the last one', () => {
  assert.equal(loadBalancingHash(new Uint8Array([])), 0);
  // one byte 0x00: h = T[1 ^ 0] = T[1]
  assert.equal(loadBalancingHash(new Uint8Array([0])), 175);
  // two bytes [1, 2]: h = T[2 ^ 2] = T[0] = 251, then T[251 ^ 1] = T[250]
  assert.equal(loadBalancingHash(new Uint8Array([1, 2])), loadbTable()[250]);
});

test('load-balancing: even hash → primary scope, odd → secondary; both scopes get keys', () => {
  const cfg = config();
  const seen = new Set<string>();
  for (let i = 0; i < 64; i++) {
    const key = new Uint8Array([0, 0x16, 0x3e, 0, 0, i]);
    const scope = scopeForKey(cfg, key);
    assert.equal(scope, loadBalancingHash(key) % 2 === 0 ? 'server1' : 'server2');
    seen.add(scope);
  }
  assert.deepEqual([...seen].sort(), ['server1', 'server2']);
});

test('hot-standby and passive-backup: every key is the primary scope', () => {
  for (const mode of ['hot-standby', 'passive-backup'] as const) {
    for (let i = 0; i < 16; i++) assert.equal(scopeForKey(config({ mode }), new Uint8Array([i, 7])), 'server1');
  }
});

test('hex keys', () => {
  assert.deepEqual(hexKey('00:16:3e:aa:bb:0c'), new Uint8Array([0, 0x16, 0x3e, 0xaa, 0xbb, 0x0c]));
  assert.deepEqual(hexKey('0a0B'), new Uint8Array([10, 11]));
  assert.equal(hexKey('xyz'), undefined);
  assert.equal(hexKey('abc'), undefined);
});
