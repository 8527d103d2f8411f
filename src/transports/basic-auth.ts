import { timingSafeEqual } from 'node:crypto';

/**
 * HTTP basic authentication as Kea's control agent does it: a fixed list of user/password pairs.
 * Comparison is constant-time so response timing does not leak how much of a password matched.
 */
export class BasicAuth {
  private readonly users: Map<string, Buffer>;

  constructor(
    readonly realm: string,
    clients: readonly { user: string; password: string }[],
  ) {
    this.users = new Map(clients.map((c) => [c.user, Buffer.from(c.password, 'utf8')]));
  }

  /** The authenticated user, or undefined for a missing, malformed or wrong credential. */
  verify(header: string | undefined): string | undefined {
    if (!header) return undefined;
    const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
    if (!match) return undefined;
    const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    const user = decoded.slice(0, colon);
    const expected = this.users.get(user);
    if (!expected) return undefined;
    const given = Buffer.from(decoded.slice(colon + 1), 'utf8');
    return given.length === expected.length && timingSafeEqual(given, expected) ? user : undefined;
  }
}
