import type { Answer } from '../../core/commands/answer.ts';
import type { CommandRequest } from '../../core/commands/command-registry.ts';
import { JSONRPC, toJsonRpcOutcome, type JsonRpcError } from '../answer-mapping.ts';

type Id = string | number | null;

export type JsonRpcResponse =
  | { readonly jsonrpc: '2.0'; readonly id: Id; readonly result: unknown }
  | { readonly jsonrpc: '2.0'; readonly id: Id; readonly error: JsonRpcError };

/** Runs one validated call; `positional` is true for XenAPI-style array params. */
export type RpcDispatch = (request: CommandRequest, positional: boolean) => Promise<Answer>;

const errorResponse = (id: Id, code: number, message: string, data?: unknown): JsonRpcResponse => ({
  jsonrpc: '2.0',
  id,
  error: data === undefined ? { code, message } : { code, message, data },
});

/**
 * Handles one JSON-RPC 2.0 message (a single call or a batch) and returns the reply text, or
 * undefined when nothing must be sent (notifications only). Follows the spec to the letter where
 * common libraries do not: a batch always gets an array back, an empty batch is one -32600,
 * method must be a string and `rpc.*` names are reserved — except OpenRPC's `rpc.discover`, the
 * one extension the server implements.
 */
/** OpenRPC service discovery: the reserved name the server answers (with its OpenRPC document). */
export const RPC_DISCOVER = 'rpc.discover';

export async function handleJsonRpcText(text: string, dispatch: RpcDispatch, opts: { readonly maxBatch?: number } = {}): Promise<string | undefined> {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch (err) {
    return JSON.stringify(errorResponse(null, JSONRPC.PARSE_ERROR, 'Parse error', (err as Error).message));
  }
  if (Array.isArray(message)) {
    if (message.length === 0) return JSON.stringify(errorResponse(null, JSONRPC.INVALID_REQUEST, 'Invalid Request', 'empty batch'));
    // A batch over the limit runs none of its calls: one error, as for a batch that is not valid.
    if (opts.maxBatch !== undefined && message.length > opts.maxBatch) {
      return JSON.stringify(errorResponse(null, JSONRPC.INVALID_REQUEST, 'Invalid Request', `a batch of ${message.length} calls exceeds server.limits.batch-length (${opts.maxBatch})`));
    }
    // Calls in a batch may run concurrently (the spec allows any order); replies keep request order.
    const replies = await Promise.all(message.map((m) => handleOne(m, dispatch)));
    const sent = replies.filter((r): r is JsonRpcResponse => r !== undefined);
    return sent.length > 0 ? JSON.stringify(sent) : undefined;
  }
  const reply = await handleOne(message, dispatch);
  return reply === undefined ? undefined : JSON.stringify(reply);
}

async function handleOne(message: unknown, dispatch: RpcDispatch): Promise<JsonRpcResponse | undefined> {
  if (message === null || typeof message !== 'object' || Array.isArray(message)) {
    return errorResponse(null, JSONRPC.INVALID_REQUEST, 'Invalid Request', 'a request must be an object');
  }
  const m = message as Record<string, unknown>;
  const hasId = Object.hasOwn(m, 'id');
  const id = m['id'];
  const idValid = id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));
  const replyId: Id = hasId && idValid ? (id as Id) : null;
  const invalid = (why: string) => errorResponse(replyId, JSONRPC.INVALID_REQUEST, 'Invalid Request', why);
  if (m['jsonrpc'] !== '2.0') return invalid('"jsonrpc" must be exactly "2.0"');
  if (hasId && !idValid) return invalid('"id" must be a string, a number or null');
  if (typeof m['method'] !== 'string') return invalid('"method" must be a string');
  const method = m['method'];
  if (method.startsWith('rpc.') && method !== RPC_DISCOVER) return hasId ? errorResponse(replyId, JSONRPC.METHOD_NOT_FOUND, 'Method not found', `'${method}': rpc.* names are reserved`) : undefined;
  const params = m['params'];
  if (params !== undefined && (params === null || typeof params !== 'object')) return invalid('"params" must be an object or an array');
  for (const key of Object.keys(m)) {
    if (key !== 'jsonrpc' && key !== 'id' && key !== 'method' && key !== 'params') return invalid(`unknown member "${key}"`);
  }
  const answer = await dispatch({ command: method, arguments: params }, Array.isArray(params));
  if (!hasId) return undefined;
  return { jsonrpc: '2.0', id: replyId, ...toJsonRpcOutcome(answer) } as JsonRpcResponse;
}
