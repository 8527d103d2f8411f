import type { Etcd3 } from 'etcd3';
import type { Store } from '../../../store/store.ts';
import type { MasterLock } from './etcd-session.ts';

/** A master write etcd refused because the writer no longer holds the master lock it claims. */
export class FencedWriteError extends Error {
  constructor(readonly reason: string) {
    super(`pool database write refused: ${reason}`);
    this.name = 'FencedWriteError';
  }
}

/** etcd's default --max-txn-ops is 128; stay well below it. */
const MAX_OPS_PER_TXN = 100;
/** etcd's default --max-request-bytes is 1.5 MiB. */
const MAX_TXN_BYTES = 1_400_000;

/**
 * The pool database's snapshot and redo log, kept in etcd while the etcd stack is active, with the
 * same contract as the file store: `append` resolves only once etcd has committed the record (a
 * quorum has it on disk), so an answer sent after it never acknowledges something a master crash can
 * lose; the next master replays snapshot + log.
 *
 * Every write is one etcd transaction guarded by the writer's fencing token: it succeeds only if the
 * writer's election key still exists with the create revision it won with. A master deposed by a
 * lost lease therefore cannot write, however late its request arrives — etcd refuses it, not timing.
 * Concurrent appends share one transaction (group commit), in order.
 *
 * Layout under `<prefix>/db/<name>/`: `snapshot` = {seq, state}; `log/<seq, 16 digits>` = record.
 */
export class EtcdStore implements Store {
  readonly snapshot: unknown;
  readonly records: readonly unknown[];
  private nextSeq: number;
  /** Each record is serialised once, when queued: the batch's size check and its put use the same text. */
  private queue: { kind: 'append' | 'snapshot'; value: unknown; text: string; resolve: () => void; reject: (e: Error) => void }[] = [];
  private flushing = false;
  private closed = false;

  private constructor(
    private readonly client: Etcd3,
    private readonly base: string,
    private readonly token: () => MasterLock | undefined,
    snapshot: unknown,
    records: unknown[],
    nextSeq: number,
  ) {
    this.snapshot = snapshot;
    this.records = records;
    this.nextSeq = nextSeq;
  }

  /** Reads the store `name` under `prefix` whole (snapshot, then every later record in order). */
  static async open(client: Etcd3, prefix: string, name: string, token: () => MasterLock | undefined): Promise<EtcdStore> {
    const base = `${prefix.replace(/\/+$/, '')}/db/${name}/`;
    const snapRaw = await client.get(`${base}snapshot`).string();
    let snapshot: unknown;
    let snapSeq = 0;
    if (snapRaw !== null) {
      const parsed = JSON.parse(snapRaw) as { seq: number; state: unknown };
      snapshot = parsed.state;
      snapSeq = parsed.seq;
    }
    const log = await client.getAll().prefix(`${base}log/`).sort('Key', 'Ascend').exec();
    const records: unknown[] = [];
    let last = snapSeq;
    for (const kv of log.kvs) {
      const seq = Number(kv.key.toString().slice(`${base}log/`.length));
      if (seq <= snapSeq) continue; // written before a snapshot whose clean-up did not finish
      if (seq !== last + 1) {
        throw new Error(`etcd pool database ${base}: record ${last + 1} is missing (next is ${seq}); refusing to open a log with a gap`);
      }
      records.push(JSON.parse(kv.value.toString()));
      last = seq;
    }
    return new EtcdStore(client, base, token, snapshot, records, last + 1);
  }

  append(record: unknown): Promise<void> {
    return this.enqueue('append', record);
  }

  writeSnapshot(state: unknown): Promise<void> {
    return this.enqueue('snapshot', state);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.queue.splice(0)) w.reject(new Error('pool database store closed'));
  }

  private enqueue(kind: 'append' | 'snapshot', value: unknown): Promise<void> {
    if (this.closed) return Promise.reject(new Error('pool database store closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ kind, value, text: JSON.stringify(value), resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.takeBatch();
        try {
          await this.commit(batch);
          for (const w of batch) w.resolve();
        } catch (err) {
          for (const w of batch) w.reject(err as Error);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Appends up to the op and byte limits, or one snapshot on its own. */
  private takeBatch(): typeof this.queue {
    const first = this.queue[0]!;
    if (first.kind === 'snapshot') return this.queue.splice(0, 1);
    let n = 0;
    let bytes = 0;
    while (n < this.queue.length && n < MAX_OPS_PER_TXN && this.queue[n]!.kind === 'append') {
      bytes += this.queue[n]!.text.length;
      if (n > 0 && bytes > MAX_TXN_BYTES) break;
      n++;
    }
    return this.queue.splice(0, n);
  }

  private async commit(batch: typeof this.queue): Promise<void> {
    const lock = this.token();
    if (lock === undefined) throw new FencedWriteError('this host does not hold the master lock in etcd (or its lease is outside its safe window)');
    const ops = [];
    let seq = this.nextSeq;
    if (batch[0]!.kind === 'snapshot') {
      const text = `{"seq":${seq - 1},"state":${batch[0]!.text}}`;
      if (text.length > MAX_TXN_BYTES) {
        throw new Error(`pool database snapshot is ${text.length} bytes, above etcd's request limit (${MAX_TXN_BYTES}); raise --max-request-bytes on the etcd members`);
      }
      ops.push(this.client.put(`${this.base}snapshot`).value(text));
      ops.push(this.client.delete().prefix(`${this.base}log/`));
    } else {
      for (const w of batch) ops.push(this.client.put(`${this.base}log/${String(seq++).padStart(16, '0')}`).value(w.text));
    }
    const res = await this.client.if(lock.key, 'Create', '==', lock.createRevision).then(...ops).commit();
    if (!res.succeeded) {
      throw new FencedWriteError(`the master lock ${lock.key} (revision ${lock.createRevision}) is no longer held; another host may be master`);
    }
    // `snapshot` and `records` stay what was recovered at open, as in the file store.
    if (batch[0]!.kind === 'append') this.nextSeq = seq;
  }
}
