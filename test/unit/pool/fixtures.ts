import { bootstrap, hostRefOf, type HostSpec } from '../../../src/hook-libs/pool/model/operations.ts';
import { commit, emptyDatabase } from '../../../src/hook-libs/pool/model/database.ts';
import type { Database } from '../../../src/hook-libs/pool/model/records.ts';

export const HOSTS: HostSpec[] = [
  { name: 'host1', address: '127.0.0.1:9001', memoryTotal: 8192 },
  { name: 'host2', address: '127.0.0.1:9002', memoryTotal: 4096 },
  { name: 'host3', address: '127.0.0.1:9003', memoryTotal: 4096 },
];
export const H1 = hostRefOf('lab', 'host1');
export const H2 = hostRefOf('lab', 'host2');
export const H3 = hostRefOf('lab', 'host3');

/** A three-host pool 'lab' with host1 as master, at generation 1. */
export function labDb(): Database {
  return commit(emptyDatabase(), bootstrap('lab', HOSTS, 'host1', 1_700_000_000_000)).db;
}

/** Deterministic UUIDs for tests. */
export function uuids(prefix = 'u'): () => string {
  let n = 0;
  return () => `${prefix}-${String(++n).padStart(4, '0')}`;
}
