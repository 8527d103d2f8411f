import { constants } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { logStoreFactory, type LogStoreFactory, type StoreLog, type StoreMedium } from './log-store.ts';

/**
 * The file implementation of the store. Store `name` lives in `dir` as
 * `name.log` (the redo log, one checksummed JSON line per record) and `name.snapshot`.
 * A snapshot is written to `name.snapshot.tmp`, synced, renamed over the old one, and the
 * directory synced, so a crash leaves either the old or the new snapshot, never a mix.
 * `wrap` lets the server observe each medium (metrics time the syncs).
 */
export function fileStoreFactory(dir: string, wrap?: (name: string, medium: StoreMedium) => StoreMedium, log?: StoreLog): LogStoreFactory {
  return logStoreFactory(async (name) => {
    const medium = await FileMedium.open(dir, name);
    return wrap ? wrap(name, medium) : medium;
  }, log);
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

class FileMedium implements StoreMedium {
  private constructor(
    private readonly dir: string,
    private readonly logPath: string,
    private readonly snapshotPath: string,
    private readonly log: FileHandle,
    private position: number,
  ) {}

  get location(): string {
    return this.logPath;
  }

  static async open(dir: string, name: string): Promise<FileMedium> {
    await mkdir(dir, { recursive: true });
    const logPath = join(dir, `${name}.log`);
    const snapshotPath = join(dir, `${name}.snapshot`);
    // Left by a crash in the middle of a snapshot; the renamed snapshot (if any) is the real one.
    await rm(`${snapshotPath}.tmp`, { force: true });
    const existed = await stat(logPath).then(() => true, () => false);
    const log = await open(logPath, constants.O_RDWR | constants.O_CREAT, 0o600);
    try {
      if (!existed) await syncDirectory(dir);
      const { size } = await log.stat();
      return new FileMedium(dir, logPath, snapshotPath, log, size);
    } catch (error) {
      await log.close();
      throw error;
    }
  }

  readSnapshot(): Promise<Buffer | undefined> {
    return readIfExists(this.snapshotPath);
  }

  readLog(): Promise<Buffer> {
    return readFile(this.logPath);
  }

  async writeLog(bytes: Buffer): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) {
      const { bytesWritten } = await this.log.write(bytes, offset, bytes.length - offset, this.position);
      offset += bytesWritten;
      this.position += bytesWritten;
    }
  }

  syncLog(): Promise<void> {
    return this.log.datasync();
  }

  async truncateLog(length: number): Promise<void> {
    await this.log.truncate(length);
    await this.log.sync();
    this.position = length;
  }

  async replaceSnapshot(bytes: Buffer): Promise<void> {
    const tmp = `${this.snapshotPath}.tmp`;
    const handle = await open(tmp, 'w', 0o600);
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, this.snapshotPath);
    await syncDirectory(this.dir);
  }

  close(): Promise<void> {
    return this.log.close();
  }
}
