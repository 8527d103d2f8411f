import type { ErrorName, ResultCode } from '../errors.ts';
import { RESULT } from '../errors.ts';

/**
 * What every command produces, whatever the transport: Kea's answer shape. The error fields are
 * present on failures so JSON-RPC can report `{code: 1, message: error, data: params}`.
 */
export interface Answer {
  readonly result: ResultCode;
  readonly text?: string;
  readonly arguments?: unknown;
  readonly error?: ErrorName;
  readonly params?: readonly string[];
}

export function ok(text?: string, args?: unknown): Answer {
  return {
    result: RESULT.SUCCESS,
    ...(text !== undefined ? { text } : {}),
    ...(args !== undefined ? { arguments: args } : {}),
  };
}

/** A success whose JSON-RPC result is the given value (XenAPI style: a ref, a record map, `""` for void). */
export function value(v: unknown, text?: string): Answer {
  return { result: RESULT.SUCCESS, arguments: v, ...(text !== undefined ? { text } : {}) };
}

export function empty(text: string, args?: unknown): Answer {
  return { result: RESULT.EMPTY, text, ...(args !== undefined ? { arguments: args } : {}) };
}
