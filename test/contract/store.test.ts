import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, truncate, writeFile, appendFile, copyFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { fileStoreFactory } from '../../src/store/file-store.ts';
import { memoryStoreFactory } from '../../src/store/memory-store.ts';
import { encodeFrame } from '../../src/store/frame.ts';
import { StoreError, type LogStore } from '../../src/store/log-store.ts';
import { collectingLog, storeContract, type StoreWorld } from './store.contract.ts';

const tempDirs: string[] = [];
after(async () => {
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'liveset-store-'));
  tempDirs.push(dir);
  return dir;
}

/** Cuts the last line of a log file in half. */
async function tearLastFrame(path: string): Promise<void> {
  const bytes = await readFile(path);
  const start = bytes.lastIndexOf(0x0a, bytes.length - 2) + 1;
  await truncate(path, start + Math.floor((bytes.length - start) / 2));
}

storeContract({
  label: 'memory',
  async world(): Promise<StoreWorld> {
    const logged: StoreWorld['logged'] = [];
    const factory = memoryStoreFactory(collectingLog(logged));
    let bytes = Buffer.alloc(0);
    return {
      logged,
      open: (name) => factory.open(name),
      async corrupt(name, change) {
        factory.corruptLog(name, change);
      },
      async logBytes(name) {
        factory.corruptLog(name, (log) => (bytes = Buffer.from(log)));
        return bytes;
      },
      async crash(_store, options = {}) {
        // One turn of the event loop lets queued writes reach the "disk" unsynced.
        await new Promise((resolve) => setImmediate(resolve));
        factory.crash(options);
      },
      async dispose() {},
    };
  },
});

storeContract({
  label: 'file',
  async world(): Promise<StoreWorld> {
    const dir = await tempDir();
    const logged: StoreWorld['logged'] = [];
    let factory = fileStoreFactory(dir, undefined, collectingLog(logged));
    return {
      logged,
      open: (name) => factory.open(name),
      async corrupt(name, change) {
        const path = join(dir, `${name}.log`);
        await writeFile(path, change(await readFile(path)));
      },
      logBytes: (name) => readFile(join(dir, `${name}.log`)),
      async crash(store, options = {}) {
        await store.close();
        if (options.tear === true) await tearLastFrame(join(dir, 'main.log'));
        factory = fileStoreFactory(dir, undefined, collectingLog(logged));
      },
      async dispose() {},
    };
  },
});

describe('file store on disk', () => {
  async function fresh(): Promise<{ dir: string; log: string; open: () => Promise<LogStore> }> {
    const dir = await tempDir();
    return { dir, log: join(dir, 'main.log'), open: () => fileStoreFactory(dir).open('main') };
  }

  it('writes one checksummed JSON line per record', async () => {
    const { log, open } = await fresh();
    const s = await open();
    await s.append({ n: 1 });
    await s.close();
    assert.match(await readFile(log, 'utf8'), /^[0-9a-f]{8} \{"seq":1,"data":\{"n":1\}\}\n$/);
  });

  it('stops at a torn tail and truncates the file there', async () => {
    const { log, open } = await fresh();
    let s = await open();
    for (const v of ['a', 'b', 'c']) await s.append(v);
    await s.close();
    const clean = (await stat(log)).size;
    const partial = encodeFrame(4, 'never finished');
    await appendFile(log, partial.subarray(0, partial.length - 5));
    s = await open();
    assert.deepEqual(s.records, ['a', 'b', 'c']);
    assert.deepEqual(s.recovery.fault, { kind: 'torn', at: clean });
    assert.equal((await stat(log)).size, clean);
    await s.append('d');
    await s.close();
    s = await open();
    assert.deepEqual(s.records, ['a', 'b', 'c', 'd']);
    await s.close();
  });

  it('refuses a record whose checksum fails when records follow it, and keeps the file as it was', async () => {
    const { log, open } = await fresh();
    let s = await open();
    for (const v of ['one', 'two', 'three', 'four']) await s.append(v);
    await s.close();
    const text = await readFile(log, 'utf8');
    const secondLine = text.indexOf('\n') + 1;
    await writeFile(log, text.replace('"two"', '"tw0"'));
    await assert.rejects(open(), (e: unknown) =>
      e instanceof StoreError && e.message.includes(`redo log ${log} is corrupt at byte offset ${secondLine} (checksum mismatch)`));
    assert.equal(await readFile(log, 'utf8'), text.replace('"two"', '"tw0"'), 'nothing was truncated');
    // After the operator truncates at the offset the message gives, the store opens.
    await truncate(log, secondLine);
    s = await open();
    assert.deepEqual(s.records, ['one']);
    await s.close();
  });

  it('refuses a log that does not continue its snapshot (records in between missing)', async () => {
    const { dir, log, open } = await fresh();
    let s = await open();
    await s.append(1);
    await s.close();
    const early = join(dir, 'early.snapshot');
    s = await open();
    await s.writeSnapshot({ upTo: 1 });
    await s.close();
    await copyFile(join(dir, 'main.snapshot'), early);
    s = await open();
    for (const v of [2, 3]) await s.append(v);
    await s.writeSnapshot({ upTo: 3 });
    await s.append(4);
    await s.close();
    await copyFile(early, join(dir, 'main.snapshot'));
    await assert.rejects(open(), (e: unknown) => e instanceof StoreError && /starts at record 4 but the snapshot ends at 1/.test(e.message));
    assert.equal((await stat(log)).size > 0, true, 'the log is kept');
  });

  it('skips log records already in the snapshot (crash between rename and truncation)', async () => {
    const { dir, log, open } = await fresh();
    let s = await open();
    for (const v of [1, 2, 3]) await s.append(v);
    await s.close();
    const stale = join(dir, 'stale.log');
    await copyFile(log, stale);
    s = await open();
    await s.writeSnapshot({ sum: 6 });
    await s.close();
    await copyFile(stale, log);
    s = await open();
    assert.deepEqual(s.snapshot, { sum: 6 });
    assert.deepEqual(s.records, []);
    assert.equal(s.recovery.skippedRecords, 3);
    await s.append(4);
    await s.close();
    s = await open();
    assert.deepEqual(s.records, [4]);
    await s.close();
  });

  it('ignores a half-written snapshot temp file and refuses a corrupt snapshot', async () => {
    const { dir, open } = await fresh();
    let s = await open();
    await s.writeSnapshot({ v: 1 });
    await s.close();
    await writeFile(join(dir, 'main.snapshot.tmp'), 'garbage without newline');
    s = await open();
    assert.deepEqual(s.snapshot, { v: 1 });
    await s.close();
    const snapshotPath = join(dir, 'main.snapshot');
    const good = await readFile(snapshotPath, 'utf8');
    await writeFile(snapshotPath, good.replace('"v":1', '"v":2'));
    await assert.rejects(open(), (e: unknown) => e instanceof StoreError && /snapshot is unreadable \(checksum\)/.test(e.message));
    assert.equal(await readFile(snapshotPath, 'utf8'), good.replace('"v":1', '"v":2'), 'a refused open changes nothing');
  });

  it('loses no acknowledged record when the writing process is killed with SIGKILL', async (t) => {
    const { dir, open } = await fresh();
    const writer = fileURLToPath(new URL('./store-writer.ts', import.meta.url));
    for (let round = 0; round < 3; round++) {
      const child = spawn(process.execPath, ['--import', 'tsx', writer, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
      t.after(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      const acked: number[] = [];
      for await (const line of createInterface({ input: child.stdout })) {
        const match = /^ack (\d+)$/.exec(line);
        if (match !== null) acked.push(Number(match[1]));
        if (acked.length === 150 + round * 37) child.kill('SIGKILL');
      }
      await exited;
      assert.equal(child.signalCode, 'SIGKILL');
      const s = await open();
      const count = (s.snapshot as { count: number } | undefined)?.count ?? 0;
      const records = s.records as number[];
      assert.deepEqual(records, Array.from({ length: records.length }, (_, i) => count + i), 'records continue the snapshot without gaps');
      const lost = acked.filter((i) => i >= count + records.length);
      assert.deepEqual(lost, [], 'every acknowledged record is in the snapshot or the log');
      await s.close();
    }
  });
});
