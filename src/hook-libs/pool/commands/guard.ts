import type { Answer } from '../../../core/commands/answer.ts';
import { errorAnswer } from '../../../core/commands/error-answer.ts';
import type { CommandContext, CommandHandler } from '../../../core/commands/command.ts';
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
 * Error answers of this library also carry `{error, params}` in their arguments: the Kea wire
 * format drops the error name, and hosts need it from each other (HOST_IS_SLAVE's address,
 * HA_ABORT_NEW_MASTER's reason). JSON-RPC still reports the XenAPI error from `error`/`params`.
 */
export function withErrorDetail(handler: CommandHandler): CommandHandler {
  return async (args, ctx) => {
    try {
      return await handler(args, ctx);
    } catch (err) {
      if (!(err instanceof CommandError)) throw err;
      return { ...errorAnswer(err), arguments: { error: err.errorName, params: [...err.params] } };
    }
  };
}

/** The XenAPI error in a failed answer from a peer, or undefined on success. */
export function answerError(a: Answer): CommandError | undefined {
  if (a.result === 0 || a.result === 3) return undefined;
  const detail = a.arguments as { error?: unknown; params?: unknown } | undefined;
  const name = (a.error ?? detail?.error) as string | undefined;
  const params = (a.params ?? detail?.params) as unknown;
  const known = name !== undefined && Object.hasOwn(ERROR_CATALOGUE, name);
  return new CommandError(
    known ? (name as ErrorName) : 'INTERNAL_ERROR',
    Array.isArray(params) ? params.map(String) : [a.text ?? 'peer failed'],
    a.text,
  );
}
