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
 *
 * The table is soft state, as in xapi: it lives in the master's memory only; what the database
 * (and so the redo log) records is each change of `live`.
 * PURE: times are monotonic ms passed in; no clock, file or socket is read.
 */
export interface HostTimer {
  readonly lastHeartbeatAt: Millis;
  readonly shuttingDown: boolean;
  /** Set by a sweep for a host not heard since this master started: no heartbeat time to report. */
  readonly unheard?: true;
}

export type LivenessTable = Map<Ref, HostTimer>;

export const emptyLiveness = (): LivenessTable => new Map();

/**
 * Records a heartbeat in `table` itself and returns it: a master with a thousand hosts takes a
 * thousand heartbeats a second, and copying the table for each one cost more than answering it.
 */
export function recordHeartbeat(table: LivenessTable, host: Ref, at: Millis, shuttingDown: boolean): LivenessTable {
  table.set(host, { lastHeartbeatAt: at, shuttingDown });
  return table;
}

export interface SweepResult {
  readonly table: LivenessTable;
  readonly changes: DbChange[];
  /** Hosts whose live flag this sweep turned to false. */
  readonly died: Ref[];
}

/**
 * One liveness sweep at `at` by the master `self`. With `wallMs` (the wall time at `at`), a host
 * marked not live gets `last_updated` = the wall time of its last heartbeat, which the database
 * has not seen since the heartbeat that made the host live.
 */
export function sweep(db: Database, table: LivenessTable, self: Ref, at: Millis, assumedDeadMs: Millis, wallMs?: number): SweepResult {
  const next = new Map(table);
  const changes: DbChange[] = [];
  const died: Ref[] = [];
  for (const [ref, host] of entries(db, 'host')) {
    if (ref === self) continue;
    let timer = next.get(ref);
    if (timer === undefined) {
      timer = { lastHeartbeatAt: at, shuttingDown: false, unheard: true };
      next.set(ref, timer);
    }
    const metrics = find(db, 'host_metrics', host.metrics);
    if (!metrics) continue;
    const expired = at - timer.lastHeartbeatAt >= assumedDeadMs;
    if (expired && metrics.live) {
      const lastHeard = wallMs !== undefined && timer.unheard !== true ? { last_updated: new Date(wallMs - (at - timer.lastHeartbeatAt)).toISOString() } : {};
      changes.push({ op: 'mod', class: 'host_metrics', ref: host.metrics, fields: { live: false, ...lastHeard } });
      died.push(ref);
    }
  }
  return { table: next, changes, died };
}
