import type { Clock, Millis, Timer } from '../src/core/clock.ts';

/** One scheduled happening: fired in time order, ties in scheduling order. */
interface Scheduled {
  readonly at: Millis;
  readonly seq: number;
  readonly label: string;
  readonly fn: () => void;
  cancelled: boolean;
}

/** A binary heap ordered by (at, seq): the simulated future. */
class Agenda {
  private readonly heap: Scheduled[] = [];

  get size(): number {
    return this.heap.length;
  }

  push(e: Scheduled): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  pop(): Scheduled | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last !== undefined) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }

  peek(): Scheduled | undefined {
    return this.heap[0];
  }
}

const before = (a: Scheduled, b: Scheduled): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq);

/** Wall clocks start here (2026-01-01), so dates in answers look real. */
export const EPOCH_WALL_MS = Date.UTC(2026, 0, 1);

/**
 * Simulated time: a single agenda of timers, message deliveries and faults. Nothing here reads a
 * real clock; `now` moves only when the next happening is taken off the agenda.
 */
export class World {
  now: Millis = 0;
  private seq = 0;
  private readonly agenda = new Agenda();

  schedule(delayMs: Millis, label: string, fn: () => void): Timer {
    const e: Scheduled = { at: this.now + Math.max(0, delayMs), seq: this.seq++, label, fn, cancelled: false };
    this.agenda.push(e);
    return { cancel: () => void (e.cancelled = true) };
  }

  /** The time of the next live happening, or undefined when nothing is scheduled. */
  nextAt(): Millis | undefined {
    let e = this.agenda.peek();
    while (e !== undefined && e.cancelled) {
      this.agenda.pop();
      e = this.agenda.peek();
    }
    return e?.at;
  }

  /** Takes the next happening off the agenda and runs it; false when none is due by `until`. */
  fireNext(until: Millis): { label: string } | undefined {
    const at = this.nextAt();
    if (at === undefined || at > until) return undefined;
    const e = this.agenda.pop() as Scheduled;
    this.now = e.at;
    e.fn();
    return { label: e.label };
  }

  /** Moves time forward with nothing happening (e.g. to the end of a phase). */
  advanceTo(t: Millis): void {
    if (t > this.now) this.now = t;
  }
}

/**
 * One incarnation of a simulated process: its timers fire only while it lives. A crash kills the
 * incarnation; a restart makes a new one, so nothing of the dead process runs again.
 */
export class Incarnation {
  alive = true;

  constructor(readonly host: string, readonly number: number) {}
}

/** The Clock a simulated host sees: shared monotonic time, its own (possibly skewed) wall clock. */
export function hostClock(world: World, inc: Incarnation, skewMs: () => number): Clock {
  return {
    monotonicMs: () => world.now,
    wallMs: () => EPOCH_WALL_MS + world.now + skewMs(),
    setTimer(delayMs, fn) {
      return world.schedule(delayMs, `${inc.host} timer`, () => {
        if (inc.alive) fn();
      });
    },
  };
}
