import type { Answer } from './answer.ts';
import type { Logger } from '../logger.ts';
import type { ErrorName } from '../errors.ts';

export type TransportName = 'kea-http' | 'jsonrpc-http' | 'jsonrpc-ws' | 'internal';

/** A WebSocket connection as the core sees it: enough to push JSON-RPC notifications. */
export interface EventSink {
  readonly id: string;
  notify(method: string, params: unknown): void;
}

/**
 * Who is calling, as the transport authenticated it. Operators are the configured clients
 * (server.authentication); peers are other servers of a pair or pool, with a peer credential a
 * library registered (the pool secret, an HA relationship's basic-auth). Without operator clients
 * every caller counts as an operator; without any peer credential of a library, every caller
 * counts as that library's peer (an open, loopback-only setup: see server.insecure).
 */
export interface CallerAuth {
  readonly operator: boolean;
  /** True when the caller holds the peer credential of library `owner` (or it registered none). */
  peer(owner: string): boolean;
}

/** Who may call a command: only peers, only operators; absent = any caller the transport let in. */
export type CallerKind = 'peer' | 'operator';

/** Per-request context handed to every handler (json-rpc-2.0's `serverParams`, made explicit). */
export interface CommandContext {
  readonly transport: TransportName;
  readonly remoteAddress?: string;
  /** Basic-auth user that authenticated the request, if authentication is configured. */
  readonly user?: string;
  /** Set by the transports for callers from outside; absent inside the server (trusted). */
  readonly caller?: CallerAuth;
  /** Set on WebSocket requests; used by `subscribe`. */
  readonly sink?: EventSink;
  /** True when the caller used XenAPI positional params (session reference first). */
  readonly positional: boolean;
  readonly logger: Logger;
}

/**
 * The contents of `schemas/commands/<name>.json`. `arguments` is the JSON Schema of the
 * arguments object. `positional`, when present, lists argument names in XenAPI order so a
 * JSON-RPC call with an array of params maps onto the same arguments object.
 */
export interface CommandSchema {
  readonly title: string;
  readonly description: string;
  readonly arguments: Record<string, unknown>;
  readonly positional?: readonly string[];
  /** JSON Schema of what a success carries (the answer's arguments, or its value for XenAPI calls). */
  readonly answer?: Record<string, unknown>;
  /**
   * The one mark of who may call: "peer" (heartbeats, notifications, pool-internal host.* calls,
   * database copies) or "operator" (emergency and configuration calls). Enforced by the core's
   * dispatch for every wire; absent = any caller the transport let in.
   */
  readonly caller?: CallerKind;
  /** Error names (src/core/errors.ts) the command itself raises, beyond those any command may. */
  readonly errors?: readonly ErrorName[];
}

export type CommandHandler = (args: Record<string, unknown>, ctx: CommandContext) => Answer | Promise<Answer>;

export interface CommandSpec {
  readonly name: string;
  readonly handler: CommandHandler;
  /** Inline schema for user libraries; built-in commands load `schemas/commands/<name>.json`. */
  readonly schema?: CommandSchema;
}
