import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { nearValidArgs, validValue, type JsonSchema, type Vocabulary } from './schema-arbitrary.ts';

export type Wire = 'kea' | 'jsonrpc-http' | 'jsonrpc-ws' | 'xenapi';
export type Kind = 'valid' | 'near-valid' | 'invalid';

/** One fuzz input: the exact text sent on one wire, and what it was meant to be. */
export interface FuzzInput {
  readonly wire: Wire;
  readonly kind: Kind;
  /** e.g. "VM.create missing args", "garbage text". */
  readonly what: string;
  readonly body: string;
  /** JSON-RPC ids the body asks answers for (none for notifications). */
  readonly ids: readonly (string | number)[];
}

export interface CommandSchemaFile {
  readonly name: string;
  readonly arguments: JsonSchema;
  readonly positional?: readonly string[];
}

/**
 * Commands left out: valid ones would stop the server (shutdown), replace its configuration
 * (config-set/-reload/-write) or start master changes whose promises expire on their own
 * (designate, propose, commit, abort, emergency and recovery calls), so the state digest would
 * move by itself. Everything else in schemas/commands is fuzzed.
 */
export const EXCLUDED = new Set([
  'shutdown', 'config-set', 'config-reload', 'config-write',
  'pool.designate_new_master', 'pool.emergency_transition_to_master', 'pool.emergency_reset_master', 'pool.recover_slaves',
  'host.propose_new_master', 'host.commit_new_master', 'host.abort_new_master',
]);

export function loadCommandSchemas(): CommandSchemaFile[] {
  const dir = fileURLToPath(new URL('../../schemas/commands/', import.meta.url));
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const s = JSON.parse(readFileSync(dir + f, 'utf8')) as { arguments: JsonSchema; positional?: string[] };
      return { name: f.slice(0, -5), arguments: s.arguments, ...(s.positional ? { positional: s.positional } : {}) };
    })
    .filter((s) => !EXCLUDED.has(s.name));
}

/** event.from long-polls up to two minutes; fuzz inputs wait at most a second. */
function tame(command: string, args: Record<string, unknown>): Record<string, unknown> {
  if (command === 'event.from' && typeof args['timeout'] === 'number' && args['timeout'] > 1) return { ...args, timeout: 1 };
  return args;
}

const idArb = fc.oneof(fc.integer({ min: 1, max: 1e9 }), fc.string({ minLength: 1, maxLength: 10 }));

function envelope(wire: Wire, command: string, params: unknown, id: string | number | undefined): { body: string; ids: (string | number)[] } {
  if (wire === 'kea') return { body: JSON.stringify(params === undefined ? { command } : { command, arguments: params }), ids: [] };
  const msg: Record<string, unknown> = { jsonrpc: '2.0', method: command };
  if (params !== undefined) msg['params'] = params;
  if (id !== undefined) msg['id'] = id;
  return { body: JSON.stringify(msg), ids: id === undefined ? [] : [id] };
}

/** XenAPI positional params: the arguments in the schema's order, session first. */
function positional(s: CommandSchemaFile, args: Record<string, unknown>): unknown[] {
  const order = s.positional ?? [];
  const out = order.map((k) => args[k]);
  while (out.length > 0 && out[out.length - 1] === undefined) out.pop();
  return out.map((v) => (v === undefined ? null : v));
}

function commandInput(s: CommandSchemaFile, vocab: Vocabulary, session: string, kind: 'valid' | 'near-valid'): fc.Arbitrary<FuzzInput> {
  const wires: Wire[] = s.positional ? ['kea', 'jsonrpc-http', 'jsonrpc-ws', 'xenapi'] : ['kea', 'jsonrpc-http', 'jsonrpc-ws'];
  const argsArb = kind === 'valid'
    ? validValue(s.arguments, vocab).map((a) => ({ args: a as Record<string, unknown>, change: 'valid' }))
    : nearValidArgs(s.arguments, vocab);
  return fc.tuple(fc.constantFrom(...wires), argsArb, fc.option(idArb, { freq: 8 })).map(([wire, { args, change }, id]) => {
    let a = tame(s.name, args);
    // JSON-RPC callers need a session; valid inputs carry the fuzzer's own.
    if (wire !== 'kea' && kind === 'valid' && s.arguments.properties?.['session_id'] !== undefined) a = { ...a, session_id: session };
    const params = wire === 'xenapi' ? positional(s, a) : a;
    const e = envelope(wire, s.name, params, wire === 'kea' ? undefined : (id ?? undefined));
    return { wire, kind, what: `${s.name} ${change}`, ...e };
  });
}

/** Bodies that are not commands at all: random JSON, random text, broken envelopes, odd batches. */
function invalidInput(names: readonly string[]): fc.Arbitrary<FuzzInput> {
  const wire = fc.constantFrom<Wire>('kea', 'jsonrpc-http', 'jsonrpc-ws');
  const bodies: fc.Arbitrary<{ what: string; body: string; ids: (string | number)[] }>[] = [
    fc.jsonValue({ maxDepth: 3 }).map((v) => ({ what: 'random JSON', body: JSON.stringify(v), ids: [] })),
    fc.string({ maxLength: 64 }).map((t) => ({ what: 'garbage text', body: t, ids: [] })),
    fc.jsonValue({ maxDepth: 2 }).map((c) => ({ what: 'command of another type', body: JSON.stringify({ command: c, jsonrpc: '2.0', method: c, id: 1 }), ids: [1] })),
    fc.string({ maxLength: 20 }).map((m) => ({ what: 'unknown command', body: JSON.stringify({ command: m, jsonrpc: '2.0', method: m, id: 2 }), ids: [2] })),
    fc.tuple(fc.constantFrom(...names), fc.jsonValue({ maxDepth: 2 })).map(([m, p]) => ({
      what: `${m} with non-object arguments`, body: JSON.stringify({ command: m, arguments: p, jsonrpc: '2.0', method: m, params: p, id: 3 }), ids: [3],
    })),
    fc.tuple(fc.constantFrom(...names), fc.jsonValue({ maxDepth: 1 }), fc.constantFrom<unknown>('1.0', 2, null, '2.0')).map(([m, id, v]) => ({
      what: `${m} with a bad version or id`, body: JSON.stringify({ jsonrpc: v, method: m, id }), ids: [],
    })),
    fc.array(fc.oneof(fc.jsonValue({ maxDepth: 1 }), fc.constant({ jsonrpc: '2.0', method: 'version-get', id: 9 })), { maxLength: 5 }).map((batch) => ({
      what: `batch of ${batch.length}`, body: JSON.stringify(batch), ids: [],
    })),
    // Nesting far deeper than a JSON.stringify caller could send, as raw text.
    fc.integer({ min: 1000, max: 200_000 }).map((n) => ({ what: `nesting ${n} deep`, body: `${'['.repeat(n)}${']'.repeat(n)}`, ids: [] })),
    fc.constantFrom(...names).map((m) => ({ what: `${m} truncated`, body: JSON.stringify({ command: m, jsonrpc: '2.0', method: m, id: 4 }).slice(0, -3), ids: [] })),
  ];
  return fc.tuple(wire, fc.oneof(...bodies)).map(([w, b]) => ({ wire: w, kind: 'invalid' as const, ...b }));
}

/** Every input the fuzzer sends: valid, near-valid and invalid in about equal parts. */
export function fuzzInputs(schemas: readonly CommandSchemaFile[], vocab: Vocabulary, session: string): fc.Arbitrary<FuzzInput> {
  return fc.oneof(
    fc.oneof(...schemas.map((s) => commandInput(s, vocab, session, 'valid'))),
    fc.oneof(...schemas.map((s) => commandInput(s, vocab, session, 'near-valid'))),
    invalidInput(schemas.map((s) => s.name)),
  );
}
