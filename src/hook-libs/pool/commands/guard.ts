import type { Answer } from '../../../core/commands/answer.ts';
import type { CommandContext } from '../../../core/commands/command.ts';
import { CommandError, type ErrorName, ERROR_CATALOGUE } from '../../../core/errors.ts';
import type { SessionTable } from '../sessions.ts';

/**
 * How sessions are handled per transport: XenAPI callers (JSON-RPC over HTTP or WebSocket) must
 * pass a valid `session_id`, as xapi demands. On the Kea control channel and inside the server the
 * session is optional, because that channel has its own authentication (server.authentication)
 * and is how hosts talk to each other; a session given there is still checked.
 */
export function checkSession(sessions: SessionTable, args: Record<string, unknown>, ctx: CommandContext): void {
  const needed = ctx.transport === 'jsonrpc-http' || ctx.transport === 'jsonrpc-ws';
  if (args['session_id'] === undefined && !needed) return;
  sessions.assert(args['session_id']);
}

/**
 * The XenAPI error in a failed answer from a peer, or undefined on success. Peers' answers carry
 * the error name and params (the Kea channel adds them for liveset callers).
 */
export function answerError(a: Answer): CommandError | undefined {
  if (a.result === 0 || a.result === 3) return undefined;
  const name = a.error as string | undefined;
  const params = a.params as unknown;
  const known = name !== undefined && Object.hasOwn(ERROR_CATALOGUE, name);
  return new CommandError(
    known ? (name as ErrorName) : 'INTERNAL_ERROR',
    Array.isArray(params) ? params.map(String) : [a.text ?? 'peer failed'],
    a.text,
  );
}
