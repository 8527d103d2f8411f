import type { Store, StoreFactory } from './store.ts';
import { decodeLog, decodeSnapshot, encodeFrame, type FrameFault } from './frame.ts';

/**
 * Where a store's bytes live. The file implementation maps these onto a directory with fsync;
 * the memory one keeps them in buffers and can simulate a crash. All the store logic (sequence
 * numbers, group commit, recovery, snapshot ordering) sits in LogStore, so both media behave the
 * same and the contract suite checks the one piece of logic twice.
 */
export interface StoreMedium {
  /** The durable snapshot, or undefined when none was ever written. */
  readSnapshot(): Promise<Buffer | undefined>;
  readLog(): Promise<Buffer>;
  /** Writes bytes at the end of the log; they are not durable until `syncLog` resolves. */
  writeLog(bytes: Buffer): Promise<void>;
  /** Makes every byte written before the call durable. */
  syncLog(): Promise<void>;
  /** Cuts the log to `length` bytes, durably. */
  truncateLog(length: number): Promise<void>;
  /** Replaces the snapshot atomically and durably: after a crash either the old or the new one is there. */
  replaceSnapshot(bytes: Buffer): Promise<void>;
  close(): Promise<void>;
}

/** Raised for a store that cannot be used: bad name, already open, closed, corrupt snapshot, failed I/O. */
export class StoreError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StoreError';
  }
}

/** What opening a store found. */
export interface Recovery {
  /** Sequence number of the last record folded into the snapshot (0 without one). */
  readonly snapshotSeq: number;
  /** Log records at or below `snapshotSeq`, left by a crash between snapshot and log truncation. */
  readonly skippedRecords: number;
  /** Bytes cut off the end of the log, and why; 0 when the log was clean. */
  readonly truncatedBytes: number;
  readonly fault?: { readonly kind: FrameFault; readonly at: number };
}

const STORE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Store names become file names, so they are restricted to a safe alphabet. */
export function checkStoreName(name: string): void {
  if (!STORE_NAME.test(name)) {
    throw new StoreError(`store name '${name}' is invalid: use 1-128 characters from A-Z a-z 0-9 . _ - (not starting with . _ -)`);
  }
}

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

interface Batch {
  readonly frames: Buffer[];
  readonly waiters: Waiter[];
}

/**
 * Snapshot + redo log over a medium. Each record gets the next sequence number; the snapshot
 * remembers the last sequence number it covers, so records a crash left behind after a snapshot
 * are recognised and skipped on recovery. Appends made while a write+sync is in progress join
 * the next batch and share its sync (group commit). Any I/O failure makes the store fail-stop:
 * a half-written frame must not be followed by acknowledged ones.
 */
export class LogStore implements Store {
  private nextSeq: number;
  private batch: Batch | undefined;
  private tail: Promise<void> = Promise.resolve();
  private failure: unknown;
  private closing: Promise<void> | undefined;
  private syncs = 0;

  private constructor(
    private readonly name: string,
    private readonly medium: StoreMedium,
    readonly snapshot: unknown,
    readonly records: readonly unknown[],
    readonly recovery: Recovery,
    lastSeq: number,
    private readonly onClose: () => void,
  ) {
    this.nextSeq = lastSeq + 1;
  }

  /** Reads the snapshot and the log, cuts off a torn or corrupt tail, and returns the open store. */
  static async open(name: string, medium: StoreMedium, onClose: () => void = () => {}): Promise<LogStore> {
    const snapshotBytes = await medium.readSnapshot();
    let snapshot: unknown;
    let snapshotSeq = 0;
    if (snapshotBytes !== undefined) {
      const decoded = decodeSnapshot(snapshotBytes);
      if (typeof decoded === 'string') {
        throw new StoreError(`store '${name}': snapshot is unreadable (${decoded}); refusing to open rather than lose state`);
      }
      snapshot = decoded.data;
      snapshotSeq = decoded.seq;
    }
    const logBytes = await medium.readLog();
    const decoded = decodeLog(logBytes);
    let frames = decoded.frames;
    let validLength = decoded.validLength;
    let fault = decoded.fault;
    const first = frames[0];
    if (first !== undefined && first.seq > snapshotSeq + 1) {
      // A gap between the snapshot and the log: nothing in the log can be trusted to follow it.
      frames = [];
      validLength = 0;
      fault = { kind: 'sequence', at: 0 };
    }
    if (validLength < logBytes.length) await medium.truncateLog(validLength);
    const kept = frames.filter((f) => f.seq > snapshotSeq);
    const lastSeq = Math.max(snapshotSeq, frames[frames.length - 1]?.seq ?? 0);
    const recovery: Recovery = {
      snapshotSeq,
      skippedRecords: frames.length - kept.length,
      truncatedBytes: logBytes.length - validLength,
      ...(fault === undefined ? {} : { fault }),
    };
    const records = Object.freeze(kept.map((f) => f.data));
    return new LogStore(name, medium, snapshot, records, recovery, lastSeq, onClose);
  }

  /** How many log syncs this store has performed (group commit makes it smaller than the append count). */
  get syncCount(): number {
    return this.syncs;
  }

  append(record: unknown): Promise<void> {
    try {
      this.checkUsable();
      const frame = encodeFrame(this.nextSeq, record);
      this.nextSeq += 1;
      let batch = this.batch;
      if (batch === undefined) {
        const fresh: Batch = { frames: [], waiters: [] };
        this.batch = batch = fresh;
        this.enqueue(() => this.flush(fresh));
      }
      const target = batch;
      target.frames.push(frame);
      return new Promise<void>((resolve, reject) => target.waiters.push({ resolve, reject }));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  writeSnapshot(state: unknown): Promise<void> {
    try {
      this.checkUsable();
      // Covers every record appended before this call; later appends go after the log truncation.
      const bytes = encodeFrame(this.nextSeq - 1, state, 'snapshot state');
      this.batch = undefined;
      return this.enqueue(async () => {
        this.checkNotFailed();
        await this.medium.replaceSnapshot(bytes);
        await this.medium.truncateLog(0);
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.tail.catch(() => {});
      try {
        await this.medium.close();
      } finally {
        this.onClose();
      }
    })();
    return this.closing;
  }

  private checkUsable(): void {
    if (this.closing !== undefined) throw new StoreError(`store '${this.name}' is closed`);
    this.checkNotFailed();
  }

  private checkNotFailed(): void {
    if (this.failure !== undefined) {
      throw new StoreError(`store '${this.name}' failed earlier and accepts no more writes`, { cause: this.failure });
    }
  }

  /** Runs `op` after every operation queued before it; a failure makes the store fail-stop. */
  private enqueue(op: () => Promise<void>): Promise<void> {
    const run = this.tail.then(async () => {
      try {
        await op();
      } catch (error) {
        this.failure ??= error;
        throw error;
      }
    });
    this.tail = run.catch(() => {});
    return run;
  }

  private async flush(batch: Batch): Promise<void> {
    if (this.batch === batch) this.batch = undefined;
    try {
      this.checkNotFailed();
      await this.medium.writeLog(Buffer.concat(batch.frames));
      await this.medium.syncLog();
      this.syncs += 1;
    } catch (error) {
      for (const w of batch.waiters) w.reject(error);
      throw error;
    }
    for (const w of batch.waiters) w.resolve();
  }
}

/** A StoreFactory whose stores expose their recovery report and sync count. */
export interface LogStoreFactory extends StoreFactory {
  open(name: string): Promise<LogStore>;
}

/**
 * Builds a factory over `mediumFor(name)`, refusing a second open of a store that is still open
 * (two writers on one log would interleave sequence numbers).
 */
export function logStoreFactory(
  mediumFor: (name: string) => Promise<StoreMedium>,
): LogStoreFactory & { forgetOpen(): void } {
  // Each open gets its own token so a store abandoned by a simulated crash cannot, when closed
  // later, release the name for the store that replaced it.
  const open = new Map<string, object>();
  const release = (name: string, token: object) => {
    if (open.get(name) === token) open.delete(name);
  };
  return {
    /** For crash simulation: the stores that were open are gone without having been closed. */
    forgetOpen: () => open.clear(),
    async open(name: string): Promise<LogStore> {
      checkStoreName(name);
      if (open.has(name)) throw new StoreError(`store '${name}' is already open`);
      const token = {};
      open.set(name, token);
      let medium: StoreMedium | undefined;
      try {
        medium = await mediumFor(name);
        return await LogStore.open(name, medium, () => release(name, token));
      } catch (error) {
        release(name, token);
        await medium?.close().catch(() => {});
        throw error;
      }
    },
  };
}
