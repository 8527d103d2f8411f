import type { CommandError } from '../errors.ts';
import type { Answer } from './answer.ts';

/** The answer for a CommandError: Kea's result and text, plus the name and params JSON-RPC needs. */
export function errorAnswer(err: CommandError): Answer {
  return { result: err.result, text: err.message, error: err.errorName, params: err.params };
}
