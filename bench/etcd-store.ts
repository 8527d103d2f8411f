import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { EtcdCluster } from '../test/helpers/etcd-cluster.ts';
import { openEtcd } from '../src/hook-libs/pool/etcd/etcd-connection.ts';
import { EtcdSession } from '../src/hook-libs/pool/etcd/etcd-session.ts';
import { EtcdStore } from '../src/hook-libs/pool/etcd/etcd-store.ts';
import { fmt, ratio, type Row, type SectionResult } from './lib/report.ts';

/**
 * The pool database through etcd: acknowledged records per second of EtcdStore (fenced transactions,
 * concurrent appends grouped) beside a bare etcd3 `put` loop with the same number of writers against
 * the same three-member cluster, in the same run.
 */
export interface EtcdStoreOptions {
  readonly writers: readonly number[];
  readonly durationMs: number;
}

/** A record about the size of a pool-database change (a VM's power state, a host's metrics). */
const RECORD = { op: 'mod', class: 'VM', ref: 'OpaqueRef:0b6e6b48-6f2f-4a8e-9d55-3d0f3a1c2b7e', fields: { power_state: 'Running', resident_on: 'OpaqueRef:5e1c' } };

async function loop(writers: number, durationMs: number, write: (i: number) => Promise<unknown>): Promise<number> {
  let done = 0;
  const end = performance.now() + durationMs;
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      let i = 0;
      while (performance.now() < end) {
        await write(w * 1_000_000 + i++);
        done++;
      }
    }),
  );
  return done / (durationMs / 1000);
}

export async function etcdStore(opts: EtcdStoreOptions): Promise<SectionResult> {
  const cluster = await EtcdCluster.start();
  const rows: Row[] = [];
  try {
    const prefix = `/liveset/bench-${process.pid}`;
    const bare = await openEtcd({ endpoints: cluster.endpoints(), prefix });
    const session = new EtcdSession({
      connection: { endpoints: cluster.endpoints(), prefix },
      ttlSeconds: 5,
      self: { uuid: 'bench-master', address: 'http://127.0.0.1:1' },
      contender: true,
      now: () => performance.now(),
      log: pino({ level: 'silent' }),
      onChange: () => {},
    });
    await session.start();
    try {
      const store = await EtcdStore.open(session.etcd(), prefix, 'pool', () => session.fencingToken());
      const value = JSON.stringify(RECORD);
      for (const writers of opts.writers) {
        // Alternate, baseline first, so drift on a shared machine hits both alike.
        const base = await loop(writers, opts.durationMs, (i) => bare.put(`${prefix}/bare/${i % 1000}`).value(value).exec());
        const ours = await loop(writers, opts.durationMs, () => store.append(RECORD));
        await store.writeSnapshot({ compacted: true });
        rows.push({
          group: 'etcd stack',
          what: `pool-database writes through etcd, ${writers} writer${writers === 1 ? '' : 's'}`,
          liveset: `${fmt(ours)} records/s`,
          baseline: `${fmt(base)} puts/s (bare etcd3 put)`,
          ratio: ratio(ours, base, 'records/s'),
        });
      }
    } finally {
      await session.stop();
      bare.close();
    }
  } finally {
    await cluster.stop();
  }
  return {
    rows,
    notes: [
      'etcd stack: a real three-member etcd 3.4 on 127.0.0.1 (Debian etcd-server). liveset: `EtcdStore.append` — each record is acknowledged only after an etcd transaction that compares the master\'s election-key revision (the fencing token) commits; concurrent appends share one transaction. Baseline: the same number of writers each running a bare etcd3 `put` loop, in the same run.',
    ],
  };
}
