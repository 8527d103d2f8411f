import type { Millis } from '../../../core/clock.ts';
import { entries, find } from './database.ts';
import type { Database, DbChange, Ref } from './records.ts';

/**
 * Host liveness without HA, as the master keeps it (xapi's db_gc): each heartbeat resets a
 * per-host timer of `assumedDeadMs`; a sweep marks hosts whose timer ran out not live, and hosts
 * that heartbeat again live (the heartbeat itself does that, see operations.heartbeat). The master
 * never sweeps itself. A host the table does not know yet (e.g. right after the master restarted)
 * gets a fresh timer, so a host the database says is live stays live for one interval; unlike
 * xapi, a sweep never marks a host live that has not heartbeated this master.
 * PURE: times are monotonic ms passed in.
 */
export interface HostTimer {
  readonly lastHeartbeatAt: Millis;
  readonly shuttingDown: boolean;
}

export type LivenessTable = ReadonlyMap<Ref, HostTimer>;

export const emptyLiveness = (): LivenessTable => new Map();

export function recordHeartbeat(table: LivenessTable, host: Ref, at: Millis, shuttingDown: boolean): LivenessTable {
  const next = new Map(table);
  next.set(host, { lastHeartbeatAt: at, shuttingDown });
  return next;
}

/** When the host's timer runs out; undefined if the table has not seen it. */
export function deadlineOf(table: LivenessTable, host: Ref, assumedDeadMs: Millis): Millis | undefined {
  const t = table.get(host);
  return t === undefined ? undefined : t.lastHeartbeatAt + assumedDeadMs;
}

export interface SweepResult {
  readonly table: LivenessTable;
  readonly changes: DbChange[];
  /** Hosts whose live flag this sweep turned to false. */
  readonly died: Ref[];
}

/** One liveness sweep at `at` by the master `self`. */
export function sweep(db: Database, table: LivenessTable, self: Ref, at: Millis, assumedDeadMs: Millis): SweepResult {
  const next = new Map(table);
  const changes: DbChange[] = [];
  const died: Ref[] = [];
  for (const [ref, host] of entries(db, 'host')) {
    if (ref === self) continue;
    let timer = next.get(ref);
    if (timer === undefined) {
      timer = { lastHeartbeatAt: at, shuttingDown: false };
      next.set(ref, timer);
    }
    const metrics = find(db, 'host_metrics', host.metrics);
    if (!metrics) continue;
    const expired = at - timer.lastHeartbeatAt >= assumedDeadMs;
    if (expired && metrics.live) {
      changes.push({ op: 'mod', class: 'host_metrics', ref: host.metrics, fields: { live: false } });
      died.push(ref);
    }
  }
  return { table: next, changes, died };
}

/** The earliest future time a sweep could change something (for the shell's timer). */
export function nextSweepAt(db: Database, table: LivenessTable, self: Ref, at: Millis, assumedDeadMs: Millis): Millis | undefined {
  let next: Millis | undefined;
  for (const [ref] of entries(db, 'host')) {
    if (ref === self) continue;
    const d = deadlineOf(table, ref, assumedDeadMs) ?? at + assumedDeadMs;
    if (d > at && (next === undefined || d < next)) next = d;
  }
  return next;
}
