import { logStoreFactory, StoreError, type LogStoreFactory, type StoreLog, type StoreMedium } from './log-store.ts';

/** How a simulated crash treats the log bytes written but not yet synced. */
export interface CrashOptions {
  /**
   * Keep the first half of the first unsynced record, as a disk that wrote part of a page would,
   * so the next open has a torn tail to cut off. Default: unsynced bytes are simply lost.
   */
  readonly tear?: boolean;
}

/** An in-memory store factory with crash injection, for tests of code that uses a store. */
export interface MemoryStoreFactory extends LogStoreFactory {
  /**
   * Simulates the process (and its page cache) dying: every open store stops working (pending
   * appends reject), unsynced log bytes are lost (or torn), synced ones and snapshots survive.
   * Stores may be opened again afterwards and recover like the file implementation.
   */
  crash(options?: CrashOptions): void;
  /**
   * Arms a crash: right after the `syncs`-th next log sync of store `name` has made its bytes
   * durable, every store crashes (as `crash()`) before the code that waited for the sync runs on,
   * and `then` is called. This is a kill -9 placed exactly between two durable writes.
   */
  crashAfterSyncs(name: string, syncs: number, then?: () => void): void;
  /** Rewrites the bytes of store `name`'s log (its synced part), as a disk that went bad would. */
  corruptLog(name: string, change: (log: Buffer) => Buffer): void;
}

/** The simulated disk of one store. */
interface Disk {
  snapshot: Buffer | undefined;
  log: Buffer;
  synced: number;
}

/** Lets the event loop run, as a real fsync would, so other appends can join the next batch. */
const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

class MemoryMedium implements StoreMedium {
  private dead = false;

  constructor(
    private readonly disk: Disk,
    readonly location: string,
    private readonly synced: () => void = () => undefined,
  ) {}

  kill(): void {
    this.dead = true;
  }

  private check(): void {
    if (this.dead) throw new StoreError('simulated crash: the store is gone');
  }

  async readSnapshot(): Promise<Buffer | undefined> {
    this.check();
    return this.disk.snapshot;
  }

  async readLog(): Promise<Buffer> {
    this.check();
    return this.disk.log;
  }

  async writeLog(bytes: Buffer): Promise<void> {
    this.check();
    this.disk.log = Buffer.concat([this.disk.log, bytes]);
  }

  async syncLog(): Promise<void> {
    this.check();
    const upTo = this.disk.log.length;
    await yieldToLoop();
    this.check();
    this.disk.synced = Math.max(this.disk.synced, upTo);
    this.synced();
    this.check();
  }

  async truncateLog(length: number): Promise<void> {
    this.check();
    this.disk.log = this.disk.log.subarray(0, length);
    this.disk.synced = length;
  }

  async replaceSnapshot(bytes: Buffer): Promise<void> {
    this.check();
    await yieldToLoop();
    this.check();
    this.disk.snapshot = bytes;
  }

  async close(): Promise<void> {
    this.dead = true;
  }
}

/** Creates an empty in-memory "disk" of stores. */
export function memoryStoreFactory(log?: StoreLog): MemoryStoreFactory {
  const disks = new Map<string, Disk>();
  const media = new Set<MemoryMedium>();
  let armed: { name: string; remaining: number; then: () => void } | undefined;
  const onSynced = (name: string) => () => {
    if (armed === undefined || armed.name !== name || --armed.remaining > 0) return;
    const { then } = armed;
    armed = undefined;
    crash({});
    then();
  };
  const crash = (options: CrashOptions) => {
    for (const medium of media) medium.kill();
    media.clear();
    factory.forgetOpen();
    for (const disk of disks.values()) {
      // Frames end with a newline, so the first one after `synced` ends the first unsynced frame.
      const end = disk.log.indexOf(0x0a, disk.synced);
      const kept = options.tear === true && end >= 0 ? Math.floor((end + 1 - disk.synced) / 2) : 0;
      disk.log = disk.log.subarray(0, disk.synced + kept);
    }
  };
  const factory = logStoreFactory(async (name) => {
    let disk = disks.get(name);
    if (disk === undefined) {
      disk = { snapshot: undefined, log: Buffer.alloc(0), synced: 0 };
      disks.set(name, disk);
    }
    const medium = new MemoryMedium(disk, `memory:${name}.log`, onSynced(name));
    media.add(medium);
    return medium;
  }, log);
  return {
    open: (name) => factory.open(name),
    corruptLog(name, change) {
      const disk = disks.get(name);
      if (disk === undefined) throw new StoreError(`no store '${name}' on this memory disk`);
      disk.log = change(Buffer.from(disk.log));
      disk.synced = disk.log.length;
    },
    crashAfterSyncs(name, syncs, then = () => undefined) {
      armed = { name, remaining: syncs, then };
    },
    crash: (options = {}) => crash(options),
  };
}
