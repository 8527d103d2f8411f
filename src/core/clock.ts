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

/** The longest delay node's setTimeout honours. */
const MAX_TIMEOUT_DELAY_MS = 2_147_483_647;

export const systemClock: Clock = {
  monotonicMs: () => performance.now(),
  wallMs: () => Date.now(),
  setTimer(delayMs, fn) {
    // node fires a delay above 2^31 - 1 ms after 1 ms (TimeoutOverflowWarning): a timer meant for
    // weeks would fire at once. Longer delays are waited out in steps.
    let handle: NodeJS.Timeout;
    const arm = (left: number) => {
      handle = setTimeout(() => (left > MAX_TIMEOUT_DELAY_MS ? arm(left - MAX_TIMEOUT_DELAY_MS) : fn()), Math.min(MAX_TIMEOUT_DELAY_MS, Math.max(0, left)));
    };
    arm(delayMs);
    return { cancel: () => clearTimeout(handle) };
  },
};
