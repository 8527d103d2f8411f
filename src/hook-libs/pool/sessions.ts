import { CommandError } from '../../core/errors.ts';

export interface SessionLimits {
  readonly maxPerUser: number;
  readonly idleMs: number;
}

interface Session {
  readonly user: string;
  readonly local: boolean;
  lastUsedMs: number;
}

/**
 * XenAPI sessions of this host. They live in memory, as xapi's do on a restart: a client whose
 * session vanished gets SESSION_INVALID and logs in again (the xen-api client does so by itself).
 * As in xapi, sessions are bounded: one not used for `idleMs` expires, and a user at `maxPerUser`
 * who logs in again loses the least recently used of its sessions — so a client that logs in on
 * every call and never logs out cannot grow the table without end.
 */
export class SessionTable {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly newId: () => string,
    private readonly nowMs: () => number,
    private readonly limits: () => SessionLimits,
    /** Told of every session ended by a limit (for the log). */
    private readonly onEnded: (ref: string, user: string, why: 'evicted' | 'expired', limits: SessionLimits) => void = () => undefined,
  ) {}

  open(user: string, local: boolean): string {
    const limits = this.limits();
    const now = this.nowMs();
    this.expire(now, limits);
    let oldest: [string, Session] | undefined;
    let held = 0;
    for (const entry of this.sessions) {
      if (entry[1].user !== user) continue;
      held++;
      if (oldest === undefined || entry[1].lastUsedMs < oldest[1].lastUsedMs) oldest = entry;
    }
    if (held >= limits.maxPerUser && oldest !== undefined) {
      this.sessions.delete(oldest[0]);
      this.onEnded(oldest[0], user, 'evicted', limits);
    }
    const ref = `OpaqueRef:${this.newId()}`;
    this.sessions.set(ref, { user, local, lastUsedMs: now });
    return ref;
  }

  close(ref: string): void {
    this.assert(ref);
    this.sessions.delete(ref);
  }

  /** Throws SESSION_INVALID [ref] unless `ref` is a live session of this host; a use keeps it alive. */
  assert(ref: unknown): void {
    const session = typeof ref === 'string' ? this.sessions.get(ref) : undefined;
    if (session === undefined) throw new CommandError('SESSION_INVALID', [String(ref ?? '')]);
    const now = this.nowMs();
    const limits = this.limits();
    if (now - session.lastUsedMs > limits.idleMs) {
      this.sessions.delete(ref as string);
      this.onEnded(ref as string, session.user, 'expired', limits);
      throw new CommandError('SESSION_INVALID', [String(ref)]);
    }
    session.lastUsedMs = now;
  }

  /** Sessions held now (for tests and status). */
  get size(): number {
    return this.sessions.size;
  }

  clear(): void {
    this.sessions.clear();
  }

  private expire(now: number, limits: SessionLimits): void {
    for (const [ref, s] of this.sessions) {
      if (now - s.lastUsedMs > limits.idleMs) {
        this.sessions.delete(ref);
        this.onEnded(ref, s.user, 'expired', limits);
      }
    }
  }
}
