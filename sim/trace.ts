import type { World } from './world.ts';

/**
 * The readable record of a run: one line per happening worth reading, stamped with simulated
 * time. Lines are built only from simulated state, never from real time or object identity, so
 * two runs of one seed print the same bytes.
 */
export class Trace {
  readonly lines: string[] = [];

  constructor(private readonly world: World, readonly verbose: boolean) {}

  /** Always recorded: faults, client operations, state changes, violations. */
  note(text: string): void {
    this.lines.push(`${stamp(this.world.now)} ${text}`);
  }

  /** Recorded only with --trace: message traffic and library log lines. */
  detail(text: string): void {
    if (this.verbose) this.note(text);
  }

  /** The last `n` lines (for a violation's context). */
  tail(n: number): string[] {
    return this.lines.slice(-n);
  }
}

export function stamp(ms: number): string {
  return `${(ms / 1000).toFixed(3).padStart(9)}s`;
}
