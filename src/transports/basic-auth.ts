import { hash, timingSafeEqual } from 'node:crypto';
import type { CallerAuth } from '../core/commands/command.ts';

/** A user/password pair; `owner` is the library whose peer credential it is, absent for operators. */
export interface Credential {
  readonly user: string;
  readonly password: string;
  readonly owner?: string;
}

/** SHA-256 of a secret; the one-shot `hash` costs about half of a createHash object per call. */
const digest = (s: string): Buffer => hash('sha256', s, 'buffer');

/** Constant-time equality of two secrets: digests are compared, so neither content nor length leaks. */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * The digest of each configured credential's password, made once: every request of a pool's
 * slaves (a thousand heartbeats a second on a big pool's master) carries the pool secret, and
 * hashing the configured side again for each was a tenth of the master's CPU per heartbeat.
 * Keyed by the credential object: a reload that changes a password brings a new object.
 */
const configured = new WeakMap<Credential, Buffer>();
function digestOf(c: Credential): Buffer {
  let d = configured.get(c);
  if (d === undefined) configured.set(c, (d = digest(c.password)));
  return d;
}

/**
 * HTTP basic authentication as Kea's control agent does it, with two kinds of credential: the
 * operators (server.authentication's clients) and the peer credentials libraries register (the
 * pool secret, an HA relationship's basic-auth). One user name may hold both. Comparisons are
 * constant-time so response timing does not leak how much of a password matched.
 */
export class BasicAuth {
  constructor(
    readonly realm: string,
    private readonly operators: readonly Credential[],
    private readonly peers: () => readonly Credential[],
  ) {}

  /** Operators are configured: a request without a credential is refused. */
  get required(): boolean {
    return this.operators.length > 0;
  }

  /** What a caller without credentials may do (only asked when no operators are configured). */
  anonymous(): CallerAuth {
    const owners = new Set(this.peers().map((c) => c.owner));
    return { operator: this.operators.length === 0, peer: (owner) => !owners.has(owner) };
  }

  /** The user and what it may do, or undefined for a malformed or wrong credential. */
  verify(header: string | undefined): { user: string; caller: CallerAuth } | undefined {
    if (!header) return undefined;
    const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
    if (!match) return undefined;
    const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const peers = this.peers();
    let operator = false;
    const peerOf = new Set<string | undefined>();
    // Every entry is compared (no early exit), so timing says nothing about which one matched; the
    // presented password is hashed once, when the first entry with its user name is compared.
    let presented: Buffer | undefined;
    const matches = (c: Credential) => timingSafeEqual((presented ??= digest(password)), digestOf(c));
    for (const c of this.operators) if ((c.user === user) && matches(c)) operator = true;
    for (const c of peers) if ((c.user === user) && matches(c)) peerOf.add(c.owner);
    if (!operator && peerOf.size === 0) {
      // Without operators, a name no credential uses is just an anonymous caller (a status page
      // forwarding its operator's header, say); a known name with a wrong password is refused.
      const known = this.operators.some((c) => c.user === user) || peers.some((c) => c.user === user);
      return known || this.required ? undefined : { user: '', caller: this.anonymous() };
    }
    const owners = new Set(peers.map((c) => c.owner));
    return {
      user,
      caller: { operator: operator || this.operators.length === 0, peer: (owner) => peerOf.has(owner) || !owners.has(owner) || (owner === 'core' && peerOf.size > 0) },
    };
  }
}
