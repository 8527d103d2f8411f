/**
 * Child process for the kill -9 test: appends numbered records to the file store in DIR, several
 * at a time, and prints `ack N` only after the append of N resolved. Every 50th record it also
 * writes a snapshot `{count}`, covering records 0..count-1. It continues the numbering from what
 * it recovers, and runs until it is killed.
 */
import { fileStoreFactory } from '../../src/store/file-store.ts';

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: store-writer.ts DIR');
const store = await fileStoreFactory(dir).open('main');
const snap = store.snapshot as { count: number } | undefined;
let next = (snap?.count ?? 0) + store.records.length;
process.stdout.write(`ready ${next}\n`);

async function writer(): Promise<never> {
  for (;;) {
    const i = next++;
    await store.append(i);
    process.stdout.write(`ack ${i}\n`);
    if (i % 50 === 0) await store.writeSnapshot({ count: next });
  }
}

await Promise.all(Array.from({ length: 8 }, writer));
