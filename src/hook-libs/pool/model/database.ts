import { CommandError } from '../../../core/errors.ts';
import type { ClassName, Database, DbChange, DbRedoRecord, RecordOf, Ref } from './records.ts';
import { CLASS_NAMES } from './records.ts';

/**
 * The pool database as immutable data. Every change is a transaction (a list of DbChange) that
 * becomes one redo record at the next generation; `applyRecord` is the only way state moves, both
 * live and when replaying the redo log after a restart. PURE.
 */

export function emptyDatabase(): Database {
  return { generation: 0, tables: { pool: {}, host: {}, host_metrics: {}, SR: {}, PBD: {}, VM: {} } };
}

/** Wraps a transaction as the redo record that follows `db`. */
export function toRedo(db: Database, changes: readonly DbChange[]): DbRedoRecord {
  return { kind: 'db', generation: db.generation + 1, changes };
}

/** Applies one redo record. Records at or below the current generation are ignored (idempotent replay). */
export function applyRecord(db: Database, rec: DbRedoRecord): Database {
  if (rec.generation <= db.generation) return db;
  // Each table a record touches is copied once, then changed in place: copying it for every
  // change made a record of n changes to one table O(n²) (a pool of 1000 hosts created, or a
  // sweep that marks many hosts not live, copied a 1000-entry table for each).
  const copied = new Map<ClassName, Record<Ref, unknown>>();
  for (const ch of rec.changes) {
    let table = copied.get(ch.class);
    if (table === undefined) copied.set(ch.class, (table = { ...db.tables[ch.class] }));
    applyChange(table, ch);
  }
  return copied.size === 0 ? { generation: rec.generation, tables: db.tables } : { generation: rec.generation, tables: { ...db.tables, ...Object.fromEntries(copied) } };
}

/** Applies a transaction in memory and returns the new database with the redo record to persist. */
export function commit(db: Database, changes: readonly DbChange[]): { db: Database; redo: DbRedoRecord } {
  const redo = toRedo(db, changes);
  return { db: applyRecord(db, redo), redo };
}

/** Applies one change to `table`, a copy owned by applyRecord. */
function applyChange(table: Record<Ref, unknown>, ch: DbChange): void {
  if (ch.op === 'add') table[ch.ref] = ch.record;
  else if (ch.op === 'del') delete table[ch.ref];
  else {
    const old = table[ch.ref];
    if (old !== undefined) table[ch.ref] = { ...(old as object), ...ch.fields };
  }
}

/** Looks a record up, failing the XenAPI way: `HANDLE_INVALID [class, ref]`. */
export function get<C extends ClassName>(db: Database, cls: C, ref: unknown): RecordOf[C] {
  const rec = typeof ref === 'string' ? (db.tables[cls] as Record<Ref, RecordOf[C]>)[ref] : undefined;
  if (rec === undefined || !Object.hasOwn(db.tables[cls], ref as string)) {
    throw new CommandError('HANDLE_INVALID', [cls, String(ref)]);
  }
  return rec;
}

export function find<C extends ClassName>(db: Database, cls: C, ref: Ref): RecordOf[C] | undefined {
  return Object.hasOwn(db.tables[cls], ref) ? (db.tables[cls] as Record<Ref, RecordOf[C]>)[ref] : undefined;
}

export function refs(db: Database, cls: ClassName): Ref[] {
  return Object.keys(db.tables[cls]).sort();
}

export function entries<C extends ClassName>(db: Database, cls: C): [Ref, RecordOf[C]][] {
  return Object.entries(db.tables[cls] as Record<Ref, RecordOf[C]>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The single pool record. */
export function poolEntry(db: Database): [Ref, RecordOf['pool']] {
  const first = entries(db, 'pool')[0];
  if (!first) throw new CommandError('INTERNAL_ERROR', ['the pool database has no pool record']);
  return first;
}

export function hostByAddress(db: Database, address: string): [Ref, RecordOf['host']] | undefined {
  return entries(db, 'host').find(([, h]) => h.address === address);
}

export function metricsOf(db: Database, hostRef: Ref): RecordOf['host_metrics'] | undefined {
  const host = find(db, 'host', hostRef);
  return host ? find(db, 'host_metrics', host.metrics) : undefined;
}

export function isLive(db: Database, hostRef: Ref): boolean {
  return metricsOf(db, hostRef)?.live === true;
}

/** Validates a snapshot read back from a store; returns undefined when it is not a database. */
export function asDatabase(v: unknown): Database | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const d = v as { generation?: unknown; tables?: Record<string, unknown> };
  if (typeof d.generation !== 'number' || typeof d.tables !== 'object' || d.tables === null) return undefined;
  for (const c of CLASS_NAMES) if (typeof d.tables[c] !== 'object' || d.tables[c] === null) return undefined;
  return v as Database;
}

export function isDbRedoRecord(v: unknown): v is DbRedoRecord {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'db' &&
    typeof (v as { generation?: unknown }).generation === 'number' && Array.isArray((v as { changes?: unknown }).changes);
}
