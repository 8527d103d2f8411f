import { performance } from 'node:perf_hooks';
import type { StoreMedium } from '../store/log-store.ts';

/**
 * Wraps a store medium to report each redo-log sync: how long it took and how many records it made
 * durable. Frames are newline-terminated, so a write's record count is its number of newlines; the
 * store writes one batch and then syncs it, which is exactly a group commit.
 */
export function timedMedium(name: string, medium: StoreMedium, report: (store: string, records: number, seconds: number) => void): StoreMedium {
  let pending = 0;
  return {
    location: medium.location,
    readSnapshot: () => medium.readSnapshot(),
    readLog: () => medium.readLog(),
    async writeLog(bytes) {
      await medium.writeLog(bytes);
      let n = 0;
      for (let i = bytes.indexOf(0x0a); i >= 0; i = bytes.indexOf(0x0a, i + 1)) n++;
      pending += n;
    },
    async syncLog() {
      const started = performance.now();
      await medium.syncLog();
      const records = pending;
      pending = 0;
      report(name, records, (performance.now() - started) / 1000);
    },
    truncateLog: (length) => medium.truncateLog(length),
    replaceSnapshot: (bytes) => medium.replaceSnapshot(bytes),
    close: () => medium.close(),
  };
}
