/**
 * What a well-formed answer looks like on each wire. Answers are parsed as JSON and checked by
 * shape, never compared as bytes (Kea's pretty formatting, key order and spacing may change).
 * Each check returns the problems found and whether the command was refused.
 */
export interface Verdict {
  readonly problems: string[];
  /** True when the command was refused (nothing may change); undefined when there is no answer to judge by. */
  readonly rejected: boolean | undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function parse(text: string, problems: string[], what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    problems.push(`${what} is not JSON: ${JSON.stringify(text.slice(0, 120))}`);
    return undefined;
  }
}

function keaAnswerProblems(a: unknown): string[] {
  if (!isObject(a)) return [`a Kea answer is not an object: ${JSON.stringify(a).slice(0, 120)}`];
  const out: string[] = [];
  if (!Number.isInteger(a['result'])) out.push(`Kea answer has no integer result: ${JSON.stringify(a).slice(0, 120)}`);
  if (a['text'] !== undefined && typeof a['text'] !== 'string') out.push('Kea answer text is not a string');
  return out;
}

/** Kea channel: 200 with a list of answers; HTTP errors carry one answer object (as Kea's agent does). */
export function checkKea(status: number, text: string): Verdict {
  const problems: string[] = [];
  const v = parse(text, problems, `Kea HTTP ${status} body`);
  if (problems.length > 0) return { problems, rejected: undefined };
  const answers = Array.isArray(v) ? v : status === 200 ? undefined : [v];
  if (answers === undefined || answers.length === 0) return { problems: [`Kea HTTP 200 body is not a non-empty list: ${text.slice(0, 120)}`], rejected: undefined };
  problems.push(...answers.flatMap(keaAnswerProblems));
  const rejected = answers.every((a) => isObject(a) && a['result'] !== 0 && a['result'] !== 3);
  return { problems, rejected };
}

function rpcResponseProblems(r: unknown): string[] {
  if (!isObject(r)) return [`a JSON-RPC response is not an object: ${JSON.stringify(r).slice(0, 120)}`];
  const out: string[] = [];
  if (r['jsonrpc'] !== '2.0') out.push('JSON-RPC response without jsonrpc "2.0"');
  const id = r['id'];
  if (!('id' in r) || !(id === null || typeof id === 'string' || typeof id === 'number')) out.push(`JSON-RPC response id is missing or of a bad type: ${JSON.stringify(id)}`);
  const hasResult = 'result' in r;
  const hasError = 'error' in r;
  if (hasResult === hasError) out.push('JSON-RPC response must have exactly one of result and error');
  if (hasError) {
    const e = r['error'];
    if (!isObject(e) || !Number.isInteger(e['code']) || typeof e['message'] !== 'string') out.push(`JSON-RPC error object malformed: ${JSON.stringify(e).slice(0, 120)}`);
  }
  return out;
}

/**
 * JSON-RPC (HTTP body or WebSocket frame text): one response or a batch of them; empty only when
 * nothing needed an answer (notifications). `ids` are the ids the request asked answers for.
 */
export function checkJsonRpc(text: string, ids: readonly (string | number)[], strictIds: boolean): Verdict {
  if (text === '') {
    return ids.length > 0 && strictIds ? { problems: [`no JSON-RPC answer for id(s) ${ids.join(', ')}`], rejected: undefined } : { problems: [], rejected: undefined };
  }
  const problems: string[] = [];
  const v = parse(text, problems, 'JSON-RPC answer');
  if (problems.length > 0) return { problems, rejected: undefined };
  const responses = Array.isArray(v) ? v : [v];
  if (Array.isArray(v) && v.length === 0) problems.push('JSON-RPC batch answer is an empty array');
  problems.push(...responses.flatMap(rpcResponseProblems));
  if (strictIds) {
    for (const id of ids) if (!responses.some((r) => isObject(r) && r['id'] === id)) problems.push(`no JSON-RPC answer with id ${JSON.stringify(id)}`);
  }
  const rejected = responses.length > 0 && responses.every((r) => isObject(r) && 'error' in r);
  return { problems, rejected };
}
