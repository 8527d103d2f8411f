import type { Store, StoreFactory } from './store.ts';
import { decodeLog, decodeSnapshot, encodeFrame, isLastFrame, type FrameFault } from './frame.ts';

/**
 * Where a store's bytes live. The file implementation maps these onto a directory with fsync;
 * the memory one keeps them in buffers and can simulate a crash. All the store logic (sequence
 * numbers, group commit, recovery, snapshot ordering) sits in LogStore, so both media behave the
 * same and the contract suite checks the one piece of logic twice.
 */
export interface StoreMedium {
  /** Where the log lives, for messages an operator must act on (a path for the file medium). */
  readonly location: string;
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

/** Where a store reports what recovery did (the server's pino logger fits). */
export interface StoreLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

const FAULT_TEXT: Record<FrameFault, string> = {
  torn: 'an unfinished record',
  checksum: 'checksum mismatch',
  malformed: 'not a record',
  sequence: 'sequence number out of order',
};

/**
 * One line per store that recovered anything: info when it replayed cleanly, warn when it had to
 * cut a torn tail or skip records a snapshot already held, so no repair goes unnoticed.
 */
function logRecovery(log: StoreLog | undefined, name: string, location: string, r: Recovery, records: number, hadSnapshot: boolean): void {
  if (log === undefined) return;
  const fields = { store: name, location, snapshotSeq: r.snapshotSeq, records, skippedRecords: r.skippedRecords, truncatedBytes: r.truncatedBytes, ...(r.fault ? { fault: r.fault } : {}) };
  if (r.truncatedBytes > 0 || r.skippedRecords > 0) {
    const cut = r.fault ? `cut ${r.truncatedBytes} bytes of ${FAULT_TEXT[r.fault.kind]} at offset ${r.fault.at}` : '';
    const skipped = r.skippedRecords > 0 ? `skipped ${r.skippedRecords} records already in the snapshot` : '';
    log.warn({ msgId: 'STORE_REPAIRED', ...fields }, `store ${name} repaired on open (${location}): ${[cut, skipped].filter(Boolean).join('; ')}`);
  } else if (records > 0 || hadSnapshot) {
    log.info({ msgId: 'STORE_RECOVERED', ...fields }, `store ${name} recovered ${records} records after snapshot ${r.snapshotSeq}`);
  }
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

  /**
   * Reads the snapshot and the log. Only a torn or corrupt LAST frame is cut off (a crash can
   * interrupt the write of the record that was never acknowledged, nothing else); a bad frame
   * with records after it, or a log that does not continue the snapshot, refuses to open: those
   * records were synced, and dropping them would silently forget acknowledged state (etcd's WAL
   * repairs only its tail for the same reason).
   */
  static async open(name: string, medium: StoreMedium, onClose: () => void = () => {}, log?: StoreLog): Promise<LogStore> {
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
    const { frames, validLength, fault } = decodeLog(logBytes);
    if (fault !== undefined && !isLastFrame(logBytes, fault.at)) {
      throw new StoreError(
        `store '${name}': redo log ${medium.location} is corrupt at byte offset ${fault.at} (${FAULT_TEXT[fault.kind]}) ` +
          `with ${logBytes.length - fault.at} bytes of records after it; refusing to open rather than drop synced records. ` +
          `Restore the data directory from a backup, or, to give up every record from offset ${fault.at} on, ` +
          `truncate the file to ${fault.at} bytes and start again.`,
      );
    }
    const first = frames[0];
    if (first !== undefined && first.seq > snapshotSeq + 1) {
      throw new StoreError(
        `store '${name}': redo log ${medium.location} starts at record ${first.seq} but the snapshot ends at ${snapshotSeq}; ` +
          `records in between are missing (was the snapshot replaced by an older one?). Refusing to open; restore both files from one backup.`,
      );
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
    logRecovery(log, name, medium.location, recovery, kept.length, snapshotBytes !== undefined);
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
  log?: StoreLog,
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
        return await LogStore.open(name, medium, () => release(name, token), log);
      } catch (error) {
        release(name, token);
        await medium?.close().catch(() => {});
        throw error;
      }
    },
  };
}
