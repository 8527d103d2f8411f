/**
 * When may a host holding an etcd lease still act on it? Pure: the shell reports when each keepalive
 * was *sent* and how it ended; the guard answers from times it is given.
 *
 * etcd expires a lease TTL after the server received the last successful keepalive. The send time
 * is earlier than that receipt, so `sentAt + TTL` is a lower bound of the server's expiry measured
 * on our own clock; the margin covers clock-rate drift and a write already in flight. The etcd3
 * client only declares a lease lost after 2×TTL without a keepalive (measured:
 * spec/clients-and-toolchain.md §B.2), so the guard, not the client's events, decides.
 */
export type LeaseState =
  /** A keepalive succeeded recently: act freely. */
  | 'held'
  /** The safe window is over or the server said the lease is gone: stop acting at once. */
  | 'lost'
  /** No lease granted yet. */
  | 'none';

export interface LeaseGuardOptions {
  ttlMs: number;
  /** Subtracted from the server-side expiry bound; default max(TTL/6, 200 ms). */
  marginMs?: number;
}

export class LeaseGuard {
  readonly ttlMs: number;
  readonly marginMs: number;
  private lastOkSentAt: number | undefined;
  private revoked = false;

  constructor(opts: LeaseGuardOptions) {
    if (!(opts.ttlMs >= 1000)) throw new Error(`etcd lease TTL must be at least 1 s (got ${opts.ttlMs} ms)`);
    this.ttlMs = opts.ttlMs;
    this.marginMs = opts.marginMs ?? Math.max(Math.round(opts.ttlMs / 6), 200);
    if (this.marginMs >= this.ttlMs) throw new Error('etcd lease margin must be smaller than the TTL');
  }

  /** A grant or keepalive sent at `sentAt` succeeded with the given remaining TTL (seconds, from etcd). */
  succeeded(sentAt: number, ttlSeconds: number): void {
    if (ttlSeconds <= 0) {
      this.revoked = true;
      return;
    }
    this.revoked = false;
    if (this.lastOkSentAt === undefined || sentAt > this.lastOkSentAt) this.lastOkSentAt = sentAt;
  }

  /** etcd said the lease no longer exists (expired or revoked). */
  lost(): void {
    this.revoked = true;
  }

  /** A new lease replaces the old one: nothing is held until it is granted. */
  reset(): void {
    this.lastOkSentAt = undefined;
    this.revoked = false;
  }

  /** Until when (own clock) acting on the lease is safe; undefined when nothing is held. */
  safeUntil(): number | undefined {
    if (this.revoked || this.lastOkSentAt === undefined) return undefined;
    return this.lastOkSentAt + this.ttlMs - this.marginMs;
  }

  state(now: number): LeaseState {
    if (this.lastOkSentAt === undefined && !this.revoked) return 'none';
    const until = this.safeUntil();
    return until !== undefined && now < until ? 'held' : 'lost';
  }

  /** Keepalives go out every TTL/3, as etcd's own clients do, so two may fail before the window closes. */
  keepaliveIntervalMs(): number {
    return Math.max(Math.floor(this.ttlMs / 3), 100);
  }
}
