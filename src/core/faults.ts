export type CutDirection = 'both' | 'in' | 'out';

/**
 * Traffic cuts between this server and named peers, for scripted fault tests. Exists only when the
 * configuration enables `testing: fault-injection`. 'in' drops requests arriving from the peer,
 * 'out' refuses calls to it; the network itself is never touched.
 */
export class FaultTable {
  private readonly cuts = new Map<string, { in: boolean; out: boolean }>();

  cut(peers: readonly string[], direction: CutDirection): void {
    for (const peer of peers) {
      const c = this.cuts.get(peer) ?? { in: false, out: false };
      if (direction !== 'out') c.in = true;
      if (direction !== 'in') c.out = true;
      this.cuts.set(peer, c);
    }
  }

  heal(peers?: readonly string[]): void {
    if (peers === undefined) this.cuts.clear();
    else for (const p of peers) this.cuts.delete(p);
  }

  isCut(peer: string, direction: 'in' | 'out'): boolean {
    return this.cuts.get(peer)?.[direction] ?? false;
  }

  describe(): Record<string, { in: boolean; out: boolean }> {
    return Object.fromEntries(this.cuts);
  }
}
