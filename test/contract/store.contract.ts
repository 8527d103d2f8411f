import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StoreError, type LogStore, type StoreLog } from '../../src/store/log-store.ts';

/**
 * One store's world for one test: open stores, and crash the "process" that holds them.
 * `crash` abandons `store` the way its implementation can: the memory one loses unsynced bytes;
 * the file one cannot lose what the OS already has, so its harness lets in-flight writes land.
 * With `tear`, the last record written is cut in half, as a disk that wrote part of it would.
 */
export interface StoreWorld {
  open(name: string): Promise<LogStore>;
  crash(store: LogStore, options?: { tear?: boolean }): Promise<void>;
  /** Rewrites the (closed) store's log bytes on its medium. */
  corrupt(name: string, change: (log: Buffer) => Buffer): Promise<void>;
  /** Reads the (closed) store's log bytes from its medium. */
  logBytes(name: string): Promise<Buffer>;
  /** What the stores reported about their recoveries, in order. */
  readonly logged: { level: 'info' | 'warn'; fields: Record<string, unknown>; message: string }[];
  dispose(): Promise<void>;
}

/** A StoreLog that keeps what it is told, for `StoreWorld.logged`. */
export function collectingLog(into: StoreWorld['logged']): StoreLog {
  return {
    info: (fields, message) => void into.push({ level: 'info', fields: fields as Record<string, unknown>, message }),
    warn: (fields, message) => void into.push({ level: 'warn', fields: fields as Record<string, unknown>, message }),
  };
}

/** Byte offset where line `index` (0-based) of a log starts. */
function lineStart(log: Buffer, index: number): number {
  let at = 0;
  for (let i = 0; i < index; i++) at = log.indexOf(0x0a, at) + 1;
  return at;
}

/** Flips one character inside the JSON of line `index`, so its checksum no longer matches. */
function damageLine(log: Buffer, index: number): Buffer {
  const at = lineStart(log, index) + 12;
  log[at] = log[at] === 0x41 ? 0x42 : 0x41;
  return log;
}

export interface StoreHarness {
  readonly label: string;
  world(): Promise<StoreWorld>;
}

async function withWorld(harness: StoreHarness, fn: (w: StoreWorld) => Promise<void>): Promise<void> {
  const w = await harness.world();
  try {
    await fn(w);
  } finally {
    await w.dispose();
  }
}

async function reopen(w: StoreWorld, store: LogStore, name = 'main'): Promise<LogStore> {
  await store.close();
  return w.open(name);
}

/** The behaviour every Store implementation must have. */
export function storeContract(harness: StoreHarness): void {
  describe(`store contract: ${harness.label}`, () => {
    it('opens empty: no snapshot, no records', () =>
      withWorld(harness, async (w) => {
        const s = await w.open('main');
        assert.equal(s.snapshot, undefined);
        assert.deepEqual(s.records, []);
        await s.close();
      }));

    it('gives back appended records in order, as JSON values', () =>
      withWorld(harness, async (w) => {
        let s = await w.open('main');
        const values = [{ a: 1, b: [true, null] }, 'text with\nnewline and ünïcode', 0, null, [1, { c: 'd' }]];
        for (const v of values) await s.append(v);
        s = await reopen(w, s);
        assert.deepEqual(s.records, values);
        await s.close();
      }));

    it('refuses values JSON cannot hold, appending nothing and staying usable', () =>
      withWorld(harness, async (w) => {
        let s = await w.open('main');
        const cyclic: Record<string, unknown> = {};
        cyclic['self'] = cyclic;
        await s.append('first');
        for (const bad of [undefined, () => 1, 10n, cyclic]) {
          await assert.rejects(s.append(bad), TypeError);
        }
        await assert.rejects(s.writeSnapshot(undefined), TypeError);
        await s.append('second');
        s = await reopen(w, s);
        assert.deepEqual(s.records, ['first', 'second']);
        assert.equal(s.snapshot, undefined);
        await s.close();
      }));

    it('replaces the snapshot and empties the log', () =>
      withWorld(harness, async (w) => {
        let s = await w.open('main');
        await s.append(1);
        await s.append(2);
        await s.writeSnapshot({ total: 3 });
        await s.append(3);
        s = await reopen(w, s);
        assert.deepEqual(s.snapshot, { total: 3 });
        assert.deepEqual(s.records, [3]);
        await s.writeSnapshot({ total: 6 });
        s = await reopen(w, s);
        assert.deepEqual(s.snapshot, { total: 6 });
        assert.deepEqual(s.records, []);
        await s.close();
      }));

    it('a snapshot covers exactly the appends made before it was asked for', () =>
      withWorld(harness, async (w) => {
        let s = await w.open('main');
        const pending = [s.append('a'), s.append('b'), s.writeSnapshot(['a', 'b']), s.append('c'), s.append('d')];
        await Promise.all(pending);
        s = await reopen(w, s);
        assert.deepEqual(s.snapshot, ['a', 'b']);
        assert.deepEqual(s.records, ['c', 'd']);
        await s.close();
      }));

    it('concurrent appends share syncs (group commit)', () =>
      withWorld(harness, async (w) => {
        let s = await w.open('main');
        const n = 50;
        await Promise.all(Array.from({ length: n }, (_, i) => s.append(i)));
        assert.ok(s.syncCount >= 1 && s.syncCount < n, `expected fewer than ${n} syncs, got ${s.syncCount}`);
        s = await reopen(w, s);
        assert.deepEqual(s.records, Array.from({ length: n }, (_, i) => i));
        await s.close();
      }));

    it('keeps stores apart by name and refuses a second open or a bad name', () =>
      withWorld(harness, async (w) => {
        const a = await w.open('alpha');
        const b = await w.open('beta');
        await a.append('in alpha');
        await b.append('in beta');
        await assert.rejects(w.open('alpha'), /already open/);
        for (const bad of ['', '../escape', '.hidden', 'a/b', 'x'.repeat(129)]) {
          await assert.rejects(w.open(bad), /store name/);
        }
        const a2 = await reopen(w, a, 'alpha');
        assert.deepEqual(a2.records, ['in alpha']);
        await a2.close();
        await b.close();
      }));

    it('refuses writes after close; close waits for pending appends and is idempotent', () =>
      withWorld(harness, async (w) => {
        let s = await w.open('main');
        const pending = s.append('before close');
        await s.close();
        await pending;
        await s.close();
        await assert.rejects(s.append('after close'), /closed/);
        await assert.rejects(s.writeSnapshot({}), /closed/);
        s = await w.open('main');
        assert.deepEqual(s.records, ['before close']);
        await s.close();
      }));

    it('loses no acknowledged record in a crash; what survives is a prefix', () =>
      withWorld(harness, async (w) => {
        let s = await w.open('main');
        const acked: number[] = [];
        const ack = (i: number) => s.append(i).then(() => void acked.push(i));
        await Promise.all(Array.from({ length: 10 }, (_, i) => ack(i)));
        const inFlight = Array.from({ length: 10 }, (_, i) => ack(10 + i));
        await w.crash(s);
        await Promise.allSettled(inFlight);
        s = await w.open('main');
        const got = s.records as number[];
        assert.deepEqual(got, Array.from({ length: got.length }, (_, i) => i), 'records form a prefix of what was appended');
        for (const i of acked) assert.ok(got.includes(i), `acknowledged record ${i} survived`);
        await s.append('after');
        const before = got.length;
        s = await reopen(w, s);
        assert.equal(s.records.length, before + 1);
        assert.equal(s.records[before], 'after');
        await s.close();
      }));

    it('cuts a torn tail off on recovery and appends cleanly after it', () =>
      withWorld(harness, async (w) => {
        let s = await w.open('main');
        await s.writeSnapshot({ base: true });
        await s.append('kept');
        const torn = s.append('torn');
        await w.crash(s, { tear: true });
        await torn.catch(() => {});
        s = await w.open('main');
        assert.deepEqual(s.snapshot, { base: true });
        assert.ok(s.recovery.truncatedBytes > 0, 'a torn tail was cut off');
        assert.equal(s.recovery.fault?.kind, 'torn');
        assert.deepEqual(s.records, ['kept']);
        await s.append('next');
        s = await reopen(w, s);
        assert.equal(s.recovery.truncatedBytes, 0);
        assert.deepEqual(s.records, ['kept', 'next']);
        await s.close();
      }));

    it('refuses to open a log with a bad record before its end, naming the log and offset, and changes nothing', () =>
      withWorld(harness, async (w) => {
        const s = await w.open('main');
        for (const v of ['role: master', 'role: slave', 'proposal', 'after']) await s.append(v);
        await s.close();
        await w.corrupt('main', (log) => damageLine(log, 1));
        const before = await w.logBytes('main');
        const offset = lineStart(before, 1);
        await assert.rejects(w.open('main'), (e: unknown) => {
          assert.ok(e instanceof StoreError, String(e));
          assert.match(e.message, new RegExp(`redo log \\S*main\\.log is corrupt at byte offset ${offset} \\(checksum mismatch\\)`));
          assert.match(e.message, /restore the data directory from a backup/i);
          return true;
        });
        assert.deepEqual(await w.logBytes('main'), before, 'a refused open cuts nothing off');
        // The name is free again: the operator's fix (here: cutting at the offset) opens cleanly.
        await w.corrupt('main', (log) => log.subarray(0, offset));
        const fixed = await w.open('main');
        assert.deepEqual(fixed.records, ['role: master']);
        await fixed.close();
      }));

    it('repairs a last record that fails its checksum (a torn final write) and logs the repair', () =>
      withWorld(harness, async (w) => {
        let s = await w.open('main');
        for (const v of ['a', 'b', 'c']) await s.append(v);
        await s.close();
        await w.corrupt('main', (log) => damageLine(log, 2));
        const offset = lineStart(await w.logBytes('main'), 2);
        s = await w.open('main');
        assert.deepEqual(s.records, ['a', 'b']);
        assert.deepEqual(s.recovery.fault, { kind: 'checksum', at: offset });
        const repaired = w.logged.find((l) => l.fields['msgId'] === 'STORE_REPAIRED');
        assert.ok(repaired, `a repair is logged: ${JSON.stringify(w.logged)}`);
        assert.equal(repaired.level, 'warn');
        assert.equal(repaired.fields['store'], 'main');
        assert.deepEqual(repaired.fields['fault'], { kind: 'checksum', at: offset });
        s = await reopen(w, s);
        assert.equal(w.logged.at(-1)?.fields['msgId'], 'STORE_RECOVERED', 'a clean recovery is logged too');
        assert.equal(w.logged.at(-1)?.fields['records'], 2);
        await s.close();
      }));
  });
}
