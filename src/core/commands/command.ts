import type { Answer } from './answer.ts';
import type { Logger } from '../logger.ts';
import type { ErrorName } from '../errors.ts';

export type TransportName = 'kea-http' | 'jsonrpc-http' | 'jsonrpc-ws' | 'internal';

/** A WebSocket connection as the core sees it: enough to push JSON-RPC notifications. */
export interface EventSink {
  readonly id: string;
  notify(method: string, params: unknown): void;
}

/** Per-request context handed to every handler (json-rpc-2.0's `serverParams`, made explicit). */
export interface CommandContext {
  readonly transport: TransportName;
  readonly remoteAddress?: string;
  /** Basic-auth user that authenticated the request, if authentication is configured. */
  readonly user?: string;
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
