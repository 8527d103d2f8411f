/**
 * Durable storage for libraries: a snapshot plus an append-only redo log. Durable before visible:
 * `append` resolves only after the record is on disk (fsync), so a caller that waits for it before
 * answering never acknowledges something a crash can lose.
 */
export interface Store {
  /** State recovered when the store was opened: the last snapshot, if any. */
  readonly snapshot: unknown;
  /** Records appended after that snapshot, in order; a torn last one (never acknowledged) is cut off. */
  readonly records: readonly unknown[];
  /** Appends a JSON record; resolves once it is synced. Concurrent appends may share one fsync. */
  append(record: unknown): Promise<void>;
  /** Atomically replaces the snapshot with `state` and empties the redo log. */
  writeSnapshot(state: unknown): Promise<void>;
  close(): Promise<void>;
}

export interface StoreFactory {
  /** Opens (creating if needed) the store called `name`, recovering its contents. */
  open(name: string): Promise<Store>;
}
