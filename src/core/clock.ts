/** Monotonic milliseconds. Only differences between two readings mean anything. */
export type Millis = number;

/** A scheduled callback; cancel() is idempotent. */
export interface Timer {
  cancel(): void;
}

/**
 * The only way the shells read time. Pure code never sees a Clock: the shell reads it and passes
 * `at` (monotonic) and, where clock skew matters, `wallMs` into the pure machines as inputs.
 */
export interface Clock {
  monotonicMs(): Millis;
  /** Wall-clock epoch milliseconds (what a partner compares for clock skew). */
  wallMs(): number;
  setTimer(delayMs: Millis, fn: () => void): Timer;
}

export const systemClock: Clock = {
  monotonicMs: () => performance.now(),
  wallMs: () => Date.now(),
  setTimer(delayMs, fn) {
    const handle = setTimeout(fn, Math.max(0, delayMs));
    return { cancel: () => clearTimeout(handle) };
  },
};
