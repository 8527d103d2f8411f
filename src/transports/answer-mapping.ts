import type { Answer } from '../core/commands/answer.ts';

/**
 * The one place that maps answers onto each wire format.
 *
 * Kea: the answer itself; Kea clients read `result` and `text`, so the error name and params are
 * added only for callers that ask (other liveset servers, which need e.g. HOST_IS_SLAVE's address).
 * JSON-RPC: success → `result` = the answer's arguments, else its text, else "" (XenAPI's void);
 * an unknown method → -32601 and invalid params → -32602 (JSON-RPC's own codes); every other
 * failure is a domain error in XenAPI's form `{code: 1, message: NAME, data: [params]}`, which
 * the xen-api client turns into an XapiError with `code` and `params`.
 */
export function toKeaAnswer(answer: Answer, withErrorDetail = false): Record<string, unknown> {
  const out: Record<string, unknown> = { result: answer.result };
  if (answer.text !== undefined) out['text'] = answer.text;
  if (answer.arguments !== undefined) out['arguments'] = answer.arguments;
  if (withErrorDetail && answer.error !== undefined) {
    out['error'] = answer.error;
    out['params'] = answer.params ?? [];
  }
  return out;
}

export interface JsonRpcError {
  readonly code: number;
  readonly message: string;
  readonly data?: unknown;
}

export type JsonRpcOutcome = { readonly result: unknown } | { readonly error: JsonRpcError };

export const JSONRPC = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  /** XenAPI uses a non-zero code with the error name as message; xapi uses 1. */
  DOMAIN_ERROR: 1,
} as const;

export function toJsonRpcOutcome(answer: Answer): JsonRpcOutcome {
  if (answer.result === 0 || answer.result === 3) {
    return { result: answer.arguments !== undefined ? answer.arguments : (answer.text ?? '') };
  }
  switch (answer.error) {
    case 'COMMAND_UNSUPPORTED':
      return { error: { code: JSONRPC.METHOD_NOT_FOUND, message: 'Method not found', data: answer.text } };
    case 'INVALID_ARGUMENTS':
      return { error: { code: JSONRPC.INVALID_PARAMS, message: 'Invalid params', data: answer.params ?? [answer.text] } };
    default:
      return {
        error: {
          code: JSONRPC.DOMAIN_ERROR,
          message: answer.error ?? 'INTERNAL_ERROR',
          data: answer.params ? answer.params.map(String) : answer.text !== undefined ? [answer.text] : [],
        },
      };
  }
}
