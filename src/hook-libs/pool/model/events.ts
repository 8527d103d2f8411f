import { CommandError } from '../../../core/errors.ts';
import { entries, find } from './database.ts';
import type { ClassName, Database, DbChange, Ref } from './records.ts';
import { CLASS_NAMES, parseClassName } from './records.ts';

/**
 * The event stream behind `event.from`: every committed transaction becomes events stamped with
 * its database generation, which is also the token a client passes back. The buffer keeps the last
 * `capacity` events; a token older than that gets EVENTS_LOST (the client then re-reads). PURE.
 */

export interface PoolEvent {
  readonly id: number;
  readonly class: string;
  readonly ref: Ref;
  readonly operation: 'add' | 'mod' | 'del';
  readonly snapshot?: unknown;
  readonly timestamp: string;
}

export interface EventBuffer {
  readonly events: readonly PoolEvent[];
  /** Events with id <= this were dropped (or predate this process). */
  readonly floor: number;
  readonly capacity: number;
}

export const emptyEvents = (generation: number, capacity: number): EventBuffer => ({ events: [], floor: generation, capacity });

/** Xapi reports event classes in lower case. */
const wireClass = (c: ClassName): string => c.toLowerCase();

/** Events for one committed transaction at `generation`, with snapshots taken from the database after it. */
export function eventsFor(db: Database, changes: readonly DbChange[], generation: number, wallMs: number): PoolEvent[] {
  const timestamp = new Date(wallMs).toISOString();
  return changes.map((ch) => {
    const snapshot = ch.op === 'del' ? undefined : find(db, ch.class, ch.ref);
    return {
      id: generation, class: wireClass(ch.class), ref: ch.ref, operation: ch.op, timestamp,
      ...(snapshot !== undefined ? { snapshot } : {}),
    };
  });
}

export function appendEvents(buf: EventBuffer, events: readonly PoolEvent[]): EventBuffer {
  const all = [...buf.events, ...events];
  if (all.length <= buf.capacity) return { ...buf, events: all };
  const dropped = all.slice(0, all.length - buf.capacity);
  const floor = dropped.reduce((f, e) => Math.max(f, e.id), buf.floor);
  return { ...buf, events: all.slice(all.length - buf.capacity).filter((e) => e.id > floor), floor };
}

/** Parses the class list of event.from: names, or "*" for all. Unknown names are ignored as xapi does. */
export function parseClasses(classes: readonly string[]): Set<ClassName> {
  if (classes.includes('*')) return new Set(CLASS_NAMES);
  const out = new Set<ClassName>();
  for (const c of classes) {
    const cls = parseClassName(c);
    if (cls) out.add(cls);
  }
  return out;
}

export function parseToken(token: string): number | undefined {
  if (token === '') return undefined;
  if (!/^\d{1,15}$/.test(token)) throw new CommandError('INVALID_VALUE', ['token', token]);
  return Number(token);
}

export const tokenOf = (generation: number): string => String(generation);

export interface FromResult {
  readonly events: PoolEvent[];
  readonly token: string;
}

/**
 * What `event.from(classes, token)` returns now; `events` may be empty (the shell then waits).
 * An empty token returns every current object of those classes as an 'add', like xapi's first call.
 */
export function eventsSince(db: Database, buf: EventBuffer, classes: Set<ClassName>, token: string, wallMs: number): FromResult {
  const from = parseToken(token);
  if (from === undefined) {
    const timestamp = new Date(wallMs).toISOString();
    const events: PoolEvent[] = [];
    for (const cls of classes) {
      for (const [ref, snapshot] of entries(db, cls)) {
        events.push({ id: db.generation, class: wireClass(cls), ref, operation: 'add', snapshot, timestamp });
      }
    }
    return { events, token: tokenOf(db.generation) };
  }
  if (from < buf.floor || from > db.generation) throw new CommandError('EVENTS_LOST', []);
  const wanted = new Set([...classes].map(wireClass));
  const events = buf.events.filter((e) => e.id > from && wanted.has(e.class));
  return { events, token: tokenOf(db.generation) };
}
