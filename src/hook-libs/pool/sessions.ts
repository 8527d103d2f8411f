import { CommandError } from '../../core/errors.ts';

/**
 * XenAPI sessions of this host. They live in memory, as xapi's do on a restart: a client whose
 * session vanished gets SESSION_INVALID and logs in again (the xen-api client does so by itself).
 */
export class SessionTable {
  private readonly sessions = new Map<string, { readonly user: string; readonly local: boolean }>();

  constructor(private readonly newId: () => string) {}

  open(user: string, local: boolean): string {
    const ref = `OpaqueRef:${this.newId()}`;
    this.sessions.set(ref, { user, local });
    return ref;
  }

  close(ref: string): void {
    this.assert(ref);
    this.sessions.delete(ref);
  }

  /** Throws SESSION_INVALID [ref] unless `ref` is a session of this host. */
  assert(ref: unknown): void {
    if (typeof ref !== 'string' || !this.sessions.has(ref)) throw new CommandError('SESSION_INVALID', [String(ref ?? '')]);
  }

  clear(): void {
    this.sessions.clear();
  }
}
