import { open, readFile, rm, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileStoreFactory } from '../src/store/file-store.ts';

/**
 * The redo log (src/store/file-store.ts) measured directly, beside the raw file-system work it
 * cannot avoid: a write + fdatasync loop of the same bytes, and reading and JSON-parsing the same
 * log file. Runs as its own process; prints one JSON line.
 */
interface Args {
  /** Rounds of (raw, single writer, group commit), each `durationMs`; medians are reported, because disk latency drifts. */
  rounds: number;
  durationMs: number;
  writers: number;
  recoverySizes: number[];
  /** When set, the largest recovery is also profiled and the .cpuprofile written here. */
  profileFile?: string;
}
const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const dir = mkdtempSync(join(tmpdir(), 'liveset-bench-redo-'));
// Shaped like a pool heartbeat redo record.
const record = (i: number) => ({
  generation: i,
  changes: [{ op: 'mod', class: 'host_metrics', ref: 'OpaqueRef:28c88b02-eeb4-4715-a6cb-21d8baf7b5db', fields: { last_updated: new Date().toISOString(), live: true } }],
});
const line = Buffer.from(`00000000 ${JSON.stringify({ seq: 1, data: record(1) })}\n`);

async function rawFsync(ms: number): Promise<number> {
  const h = await open(join(dir, 'raw.log'), 'w');
  let n = 0;
  let pos = 0;
  const end = performance.now() + ms;
  const t0 = performance.now();
  while (performance.now() < end) {
    await h.write(line, 0, line.length, pos);
    pos += line.length;
    await h.datasync();
    n++;
  }
  const rate = n / ((performance.now() - t0) / 1000);
  await h.close();
  return rate;
}

async function storeWrites(name: string, writers: number, ms: number): Promise<{ rate: number; perSync: number }> {
  const store = await fileStoreFactory(dir).open(name);
  let n = 0;
  const end = performance.now() + ms;
  const t0 = performance.now();
  const syncs0 = store.syncCount;
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (performance.now() < end) await store.append(record(n++));
    }),
  );
  const rate = n / ((performance.now() - t0) / 1000);
  const perSync = n / Math.max(1, store.syncCount - syncs0);
  await store.close();
  return { rate, perSync };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

async function recovery(records: number, repeats: number): Promise<{ records: number; bytes: number; storeMs: number; rawMs: number }> {
  const name = `recover-${records}`;
  const factory = fileStoreFactory(dir);
  const w = await factory.open(name);
  for (let i = 0; i < records; i += 1000) {
    await Promise.all(Array.from({ length: Math.min(1000, records - i) }, (_, j) => w.append(record(i + j))));
  }
  await w.close();
  const file = join(dir, `${name}.log`);
  const storeTimes: number[] = [];
  const rawTimes: number[] = [];
  let size = 0;
  for (let k = 0; k < repeats; k++) {
    let t0 = performance.now();
    const r = await fileStoreFactory(dir).open(name);
    storeTimes.push(performance.now() - t0);
    if (r.records.length !== records) throw new Error(`recovered ${r.records.length} of ${records}`);
    await r.close();
    t0 = performance.now();
    const bytes = await readFile(file);
    const text = bytes.toString('utf8');
    let parsed = 0;
    for (const l of text.split('\n')) if (l.length > 0 && JSON.parse(l.slice(9))) parsed++;
    rawTimes.push(performance.now() - t0);
    if (parsed !== records) throw new Error(`raw parse found ${parsed}`);
    size = bytes.length;
  }
  return { records, bytes: size, storeMs: median(storeTimes), rawMs: median(rawTimes) };
}

try {
  const raws: number[] = [];
  const singles: number[] = [];
  const groups: number[] = [];
  const perSync: number[] = [];
  for (let i = 0; i < args.rounds; i++) {
    raws.push(await rawFsync(args.durationMs));
    singles.push((await storeWrites(`single-${i}`, 1, args.durationMs)).rate);
    const g = await storeWrites(`group-${i}`, args.writers, args.durationMs);
    groups.push(g.rate);
    perSync.push(g.perSync);
  }
  const rec = [];
  for (const n of args.recoverySizes) rec.push(await recovery(n, args.rounds));
  if (args.profileFile !== undefined) {
    // The store was opened (and so JIT-warmed) above; profile one more open of the largest log.
    const name = `recover-${Math.max(...args.recoverySizes)}`;
    const session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 100 });
    await session.post('Profiler.start');
    const s = await fileStoreFactory(dir).open(name);
    const { profile } = await session.post('Profiler.stop');
    await s.close();
    session.disconnect();
    await writeFile(args.profileFile, JSON.stringify(profile));
  }
  process.stdout.write(
    JSON.stringify({ raw: median(raws), single: median(singles), group: median(groups), perSync: median(perSync), recovery: rec, recordBytes: line.length }) + '\n',
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
