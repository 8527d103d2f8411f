import type { Callout, CalloutStatus } from './hook-library.ts';

interface Registered {
  readonly owner: string;
  readonly fn: Callout;
}

/**
 * Callouts per hook point, run in library order then registration order (Kea's rule). The first
 * callout that answers 'skip' or 'drop' ends the chain and decides the flow.
 */
export class CalloutRegistry {
  private readonly points = new Map<string, Registered[]>();

  add(point: string, owner: string, fn: Callout): void {
    const list = this.points.get(point) ?? [];
    list.push({ owner, fn });
    this.points.set(point, list);
  }

  removeOwner(owner: string): void {
    for (const [point, list] of this.points) {
      const kept = list.filter((r) => r.owner !== owner);
      if (kept.length > 0) this.points.set(point, kept);
      else this.points.delete(point);
    }
  }

  /**
   * Re-establishes library order after a library was restarted (its callouts were appended at
   * the end): a stable sort keeps registration order within each library.
   */
  sortBy(rank: (owner: string) => number): void {
    for (const list of this.points.values()) list.sort((a, b) => rank(a.owner) - rank(b.owner));
  }

  has(point: string): boolean {
    return this.points.has(point);
  }

  async run(point: string, args: Record<string, unknown>): Promise<CalloutStatus> {
    const list = this.points.get(point);
    if (!list) return 'continue';
    for (const { fn } of list) {
      const status = (await fn(args)) ?? 'continue';
      if (status !== 'continue') return status;
    }
    return 'continue';
  }
}
