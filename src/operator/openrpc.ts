import type { CommandSchema } from '../core/commands/command.ts';
import { ERROR_CATALOGUE, type ErrorName } from '../core/errors.ts';

/** A command as the reference and the OpenRPC document describe it. */
export interface DescribedCommand {
  readonly name: string;
  /** The library that registers it (`core` for the server's own commands). */
  readonly library: string;
  readonly schema: CommandSchema;
}

/** The OpenRPC specification version the document follows. */
export const OPENRPC_VERSION = '1.3.2';

/**
 * Errors a command can answer with, from its schema: the ones it declares (`errors`) plus those
 * the core raises for any command of its shape (bad arguments, a positional call with too many
 * params, a XenAPI session that is not valid, a failing handler, a server that is stopping).
 */
export function commandErrors(schema: CommandSchema): ErrorName[] {
  const props = (schema.arguments['properties'] ?? {}) as Record<string, unknown>;
  const names = new Set<ErrorName>(schema.errors ?? []);
  names.add('INVALID_ARGUMENTS');
  if (schema.positional) names.add('MESSAGE_PARAMETER_COUNT_MISMATCH');
  if ('session_id' in props) names.add('SESSION_INVALID');
  names.add('INTERNAL_ERROR');
  names.add('SHUTTING_DOWN');
  return [...names];
}

/** Ordered params: XenAPI positional order first (session first), then the remaining names. */
function params(schema: CommandSchema): Record<string, unknown>[] {
  const props = (schema.arguments['properties'] ?? {}) as Record<string, Record<string, unknown>>;
  const required = new Set((schema.arguments['required'] ?? []) as string[]);
  const order = [...(schema.positional ?? []), ...Object.keys(props).filter((k) => !schema.positional?.includes(k))];
  return order.map((name) => {
    const { description, ...rest } = props[name] ?? {};
    return { name, ...(typeof description === 'string' ? { description } : {}), required: required.has(name), schema: rest };
  });
}

/**
 * An OpenRPC document (what `rpc.discover` answers, and docs/openrpc.json) for the JSON-RPC
 * transports: method = command, params by name or (XenAPI calls) by position, the result as the
 * answer's arguments, domain errors as code 1 with the error name as message.
 */
export function openRpcDocument(commands: readonly DescribedCommand[], version: string): Record<string, unknown> {
  return {
    openrpc: OPENRPC_VERSION,
    info: {
      title: 'liveset',
      version,
      description: 'JSON-RPC 2.0 on POST /jsonrpc and over the WebSocket /ws. The same commands are served on the Kea control channel (POST /). Domain errors are {code: 1, message: NAME, data: params}.',
    },
    methods: [...commands].sort((a, b) => a.name.localeCompare(b.name)).map((c) => ({
      name: c.name,
      summary: c.schema.description.split(/(?<=\.)\s/)[0],
      description: c.schema.description,
      tags: [{ name: c.library }],
      paramStructure: c.schema.positional ? 'either' : 'by-name',
      params: params(c.schema),
      result: { name: 'result', schema: c.schema.answer ?? {} },
      errors: [
        { code: -32602, message: 'Invalid params' },
        ...commandErrors(c.schema).map((e) => ({ code: 1, message: e, data: { result: ERROR_CATALOGUE[e].result } })),
      ],
    })),
  };
}
