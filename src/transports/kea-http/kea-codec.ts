import type { CommandRequest } from '../../core/commands/command-registry.ts';

/** Kea's bare reply for a request it cannot even parse: HTTP status and body carry the same code. */
export const KEA_BAD_REQUEST = { result: 400, text: 'Bad Request' } as const;

export type KeaParse =
  | { readonly kind: 'command'; readonly request: CommandRequest }
  | { readonly kind: 'bad-request' }
  | { readonly kind: 'refused'; readonly text: string };

const ENVELOPE_KEYS = new Set(['command', 'service', 'arguments']);

/**
 * Parses a Kea control-channel body `{command, service?, arguments?}`. Malformed JSON is a bare
 * HTTP 400 (as Kea's control agent does); a well-formed body with a bad envelope is refused with a
 * result-1 answer naming the problem; a `service` this server does not serve is refused too.
 */
export function parseKeaBody(body: string, services: readonly string[]): KeaParse {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return { kind: 'bad-request' };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { kind: 'refused', text: 'invalid command: the body must be a JSON object {"command": ..., "arguments": ...}' };
  }
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (!ENVELOPE_KEYS.has(key)) return { kind: 'refused', text: `invalid command: unsupported parameter '${key}'` };
  }
  if (typeof obj['command'] !== 'string' || obj['command'] === '') {
    return { kind: 'refused', text: "invalid command: 'command' must be a non-empty string" };
  }
  const service = obj['service'];
  if (service !== undefined) {
    if (!Array.isArray(service) || !service.every((s) => typeof s === 'string')) {
      return { kind: 'refused', text: "invalid command: 'service' must be a list of strings" };
    }
    const unknown = service.filter((s) => !services.includes(s as string));
    if (unknown.length > 0) {
      return { kind: 'refused', text: `service '${unknown.join("', '")}' is not served here (this server serves: ${services.join(', ')})` };
    }
  }
  const args = obj['arguments'];
  if (args !== undefined && (args === null || typeof args !== 'object' || Array.isArray(args))) {
    return { kind: 'refused', text: "invalid command: 'arguments' must be a JSON object" };
  }
  return { kind: 'command', request: { command: obj['command'], arguments: args } };
}
