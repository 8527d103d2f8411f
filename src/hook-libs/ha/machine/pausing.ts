import type { HaState, PauseRule } from './ha-state.ts';

/** The pause flag plus which `once` states have already paused in this server's life. */
export interface PauseBook {
  readonly paused: boolean;
  readonly pausedOnce: readonly HaState[];
}

export const NOT_PAUSED: PauseBook = { paused: false, pausedOnce: [] };

/**
 * Applies the pause rule on entry to `state` (Kea's State::shouldPause inside setState): only when
 * not already paused; `once` is consumed only when it actually pauses.
 */
export function pauseOnEntry(book: PauseBook, state: HaState, rule: PauseRule | undefined): PauseBook {
  if (book.paused) return book;
  if (rule === 'always') return { ...book, paused: true };
  if (rule === 'once' && !book.pausedOnce.includes(state)) {
    return { paused: true, pausedOnce: [...book.pausedOnce, state] };
  }
  return book;
}

/** `ha-continue`: the only way to clear the flag. */
export function unpause(book: PauseBook): PauseBook {
  return book.paused ? { ...book, paused: false } : book;
}
