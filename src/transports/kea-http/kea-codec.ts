import type { Answer } from '../../core/commands/answer.ts';
import type { CommandRequest } from '../../core/commands/command-registry.ts';
import { toKeaAnswer } from '../answer-mapping.ts';
import { keaJson } from './kea-json.ts';

/**
 * Kea's control channel on POST /: parsing the envelope, running it once per `service`, and the
 * answer's bytes. Everything here follows a Kea 2.2 control agent (`src/bin/agent/ca_command_mgr.cc`,
 * `src/lib/config/base_command_mgr.cc`, `src/lib/cc/command_interpreter.cc` parseCommand, at tag
 * Kea-2.2.0); liveset is the agent and the server behind it in one, so `service` names this server
 * (`server.services`) where Kea names a daemon.
 */

/** Kea's bare reply for a request it cannot even parse: HTTP status and body carry the same code. */
export const KEA_BAD_REQUEST = { result: 400, text: 'Bad Request' } as const;

/** Keys parseCommand accepts at the top level (`remote-address` is the agent's own addition). */
const ENVELOPE_KEYS = new Set(['command', 'service', 'arguments', 'remote-address']);

/** processCommand's prefix for anything parseCommand throws. */
const PROCESSING = 'Error during command processing: ';

export type KeaParse =
  | { readonly kind: 'bad-request' }
  /** Answered before any command runs: one answer for the whole request. */
  | { readonly kind: 'answer'; readonly answer: Answer }
  /**
   * Run `request` once per entry of `services` in order; `null` is this server itself (no
   * `service`, or an empty list, which Kea's agent handles itself).
   */
  | { readonly kind: 'command'; readonly request: CommandRequest; readonly services: readonly (string | null)[] };

const fail = (text: string): KeaParse => ({ kind: 'answer', answer: { result: 1, text } });

/**
 * Parses a Kea control-channel body. Malformed JSON is a bare HTTP 400; an empty body is Kea's
 * "NULL command parameter"; envelope errors carry parseCommand's texts. `arguments` is passed on
 * whatever its type: as in Kea, the command decides (see the registry).
 */
export function parseKeaBody(body: string): KeaParse {
  // PostHttpRequestJson::parseBodyAsJson leaves the command null for an empty body, and
  // BaseCommandMgr::processCommand answers that.
  if (body.length === 0) return fail('Command processing failed: NULL command parameter');
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return { kind: 'bad-request' };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return fail(PROCESSING + 'Invalid command Element specified, expected map');
  }
  const obj = value as Record<string, unknown>;
  if (!('command' in obj)) return fail(PROCESSING + "Invalid answer specified, does not contain mandatory 'command'");
  // Kea walks a std::map, so the first unsupported key in sorted order is the one named.
  const unsupported = Object.keys(obj).filter((k) => !ENVELOPE_KEYS.has(k)).sort()[0];
  if (unsupported !== undefined) return fail(PROCESSING + `Received command contains unsupported parameter '${unsupported}'`);
  const command = obj['command'];
  if (typeof command !== 'string') return fail(PROCESSING + "'command' element in command message is not a string");
  const service = obj['service'];
  let services: (string | null)[] = [null];
  if (service !== undefined) {
    if (!Array.isArray(service)) return fail('service value must be a list');
    // Kea would fail on the first non-string while forwarding; liveset refuses before running any.
    if (!service.every((s) => typeof s === 'string')) return fail('service value must be a list of strings');
    if (service.length > 0) services = service as string[];
  }
  const request: CommandRequest = obj['arguments'] === undefined ? { command } : { command, arguments: obj['arguments'] };
  return { kind: 'command', request, services };
}

/** What the agent answers for a service it cannot forward to (CtrlAgentCommandMgr::forwardCommand). */
export function unknownServiceAnswer(service: string): Answer {
  return { result: 1, text: `forwarding socket is not configured for the server type ${service}` };
}

export interface KeaReply {
  readonly status: number;
  readonly body: string;
}

export interface KeaOptions {
  /** Values of `service` this server answers to. */
  readonly services: readonly string[];
  /** Add the error name and params to failures (liveset peers and callers asking with the header). */
  readonly errorDetail: boolean;
  /**
   * Compact JSON instead of Kea's layout: for liveset peers only, which parse the answer and never
   * show it, and whose heartbeats are the hottest path of a large pool.
   */
  readonly compact: boolean;
}

/**
 * One Kea-channel request, start to end: parse, run once per service in order (an unknown service
 * gets the agent's forwarding error in its place, the others still run), and the answer list as
 * Kea's agent writes it. HTTP 200 whatever the results, as Kea's agent; 400 only for a body that is
 * not JSON.
 */
export async function handleKeaText(body: string, opts: KeaOptions, run: (request: CommandRequest) => Promise<Answer>): Promise<KeaReply> {
  const parsed = parseKeaBody(body);
  if (parsed.kind === 'bad-request') return { status: 400, body: keaBody(KEA_BAD_REQUEST, opts.compact) };
  const answers: Record<string, unknown>[] = [];
  if (parsed.kind === 'answer') {
    answers.push(toKeaAnswer(parsed.answer, false));
  } else {
    for (const s of parsed.services) {
      const answer = s === null || opts.services.includes(s) ? await run(parsed.request) : unknownServiceAnswer(s);
      answers.push(toKeaAnswer(answer, opts.errorDetail));
    }
  }
  return { status: 200, body: keaBody(answers, opts.compact) };
}

/** A Kea-channel body (answer list, or the bare map of an HTTP-level error) in Kea's layout. */
export function keaBody(value: unknown, compact = false): string {
  return compact ? JSON.stringify(value) : keaJson(value);
}
