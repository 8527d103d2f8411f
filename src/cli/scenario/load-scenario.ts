import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../../core/errors.ts';
import { parseConfigText } from '../../core/config/parse-config.ts';
import { formatProblem } from '../../core/config/load-config.ts';
import type { ConfigSource } from '../../core/config/config-types.ts';
import { SchemaValidator, type SchemaProblem } from '../../core/schema-validator.ts';
import type { ClusterMember } from '../../core/hooks/hook-library.ts';
import type { Action, CutDirection, JsonObject, Request, Scenario, Step, Via } from './scenario-types.ts';
import { variableNames } from './variables.ts';
import scenarioSchema from '../../../schemas/scenario.schema.json' with { type: 'json' };

/** Every problem of a scenario file, one line each: `file:line:col: path: message`. */
export class ScenarioError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ScenarioError';
  }
}

const ACTIONS = ['send', 'wait-until', 'expect-event', 'kill', 'stop', 'start', 'restart', 'partition', 'heal', 'sleep'] as const;
const DEFAULT_STEP_TIMEOUT_MS = 10_000;
const DEFAULT_STARTUP_TIMEOUT_MS = 20_000;
const DEFAULT_POLL_INTERVAL_MS = 100;

/** `500ms`, `2s`, `1.5m` or a number of milliseconds. */
export function parseDuration(value: unknown, fallback: number): number {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return fallback;
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m)$/.exec(value);
  if (m === null) return fallback;
  const n = Number(m[1]);
  return Math.round(m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000);
}

/** Replaces the schema's regular expressions in messages with words. */
function friendlier(p: SchemaProblem): SchemaProblem {
  if (p.message.startsWith('must match pattern "^[0-9]+(')) {
    return { pointer: p.pointer, message: 'must be a duration such as 500ms, 2s or 1m, or a number of milliseconds' };
  }
  return p;
}

const asList = (v: unknown): string[] => (Array.isArray(v) ? (v as string[]) : [v as string]);

let validator: SchemaValidator | undefined;

/**
 * Reads and checks a scenario file. `readCluster` lists the members of the cluster file it names
 * (injected so this module does not import libraries itself). Throws ScenarioError with every
 * problem found; nothing is started for an invalid file.
 */
export async function loadScenario(
  file: string,
  readCluster: (path: string) => Promise<readonly ClusterMember[]>,
): Promise<Scenario> {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ScenarioError([`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
  }
  let parsed: { value: unknown; source: ConfigSource };
  try {
    parsed = parseConfigText(text, file, dirname(path));
  } catch (err) {
    if (err instanceof ConfigError) throw new ScenarioError(err.problems);
    throw err;
  }
  const { value, source } = parsed;
  const problems: SchemaProblem[] = [];
  validator ??= new SchemaValidator();
  const schemaProblems = validator.compile(scenarioSchema as Record<string, unknown>)(value).map(friendlier);
  const isObject = (v: unknown): v is JsonObject => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (!isObject(value) || !Array.isArray(value['steps']) || typeof (value['cluster'] ?? '') !== 'string') {
    throw new ScenarioError(schemaProblems.map((p) => formatProblem(source, p)));
  }
  const doc = value;
  const rawSteps = doc['steps'] as unknown[];
  // Steps without exactly one action get one clear message instead of the schema's noise about them.
  const actionCount = (i: number) => (isObject(rawSteps[i]) ? ACTIONS.filter((a) => a in (rawSteps[i] as JsonObject)).length : 1);
  const stepOf = (pointer: string) => /^\/steps\/(\d+)/.exec(pointer)?.[1];
  const badSteps = new Set<number>();
  for (const p of schemaProblems) {
    const i = stepOf(p.pointer);
    if (i !== undefined && actionCount(Number(i)) !== 1) continue;
    if (i !== undefined) badSteps.add(Number(i));
    problems.push(p);
  }

  let members: readonly ClusterMember[] = [];
  let cluster: string | undefined;
  if (typeof doc['cluster'] === 'string') {
    cluster = resolve(dirname(path), doc['cluster']);
    try {
      members = await readCluster(cluster);
    } catch (err) {
      const detail = err instanceof ConfigError ? err.problems.join('; ') : (err as Error).message;
      problems.push({ pointer: '/cluster', message: `cannot use cluster file: ${detail}` });
    }
  } else if (doc['servers'] === undefined) {
    problems.push({ pointer: '', message: 'needs `cluster` (a cluster file to start) or `servers` (servers already running)' });
  }
  const external = Object.fromEntries(
    Object.entries((doc['servers'] as Record<string, { url: string }> | undefined) ?? {}).map(([n, s]) => [n, s.url]),
  );
  const memberNames = members.map((m) => m.name);
  for (const n of Object.keys(external)) {
    if (memberNames.includes(n)) problems.push({ pointer: `/servers/${n}`, message: `'${n}' is also a member of the cluster` });
  }
  const known = [...memberNames, ...Object.keys(external)];
  const variables: Record<string, string> = Object.fromEntries(Object.entries((doc['variables'] as JsonObject | undefined) ?? {}).map(([k, v]) => [k, String(v)]));
  // Names `save` adds are known from their step on; the scenario's own variables are kept apart.
  const ctx = { problems, known, variables: { ...variables } };

  const checkServer = (name: string, pointer: string, managedOnly = false): void => {
    if (!known.includes(name)) {
      problems.push({ pointer, message: `unknown server '${name}' (known: ${known.join(', ') || 'none'})` });
    } else if (managedOnly && !memberNames.includes(name)) {
      problems.push({ pointer, message: `'${name}' was not started by this scenario, so it cannot be killed, stopped or started` });
    }
  };

  let start: string[] = memberNames;
  const startSpec = doc['start'];
  if (startSpec === 'none') start = [];
  else if (Array.isArray(startSpec)) {
    start = startSpec as string[];
    start.forEach((n, i) => checkServer(n, `/start/${i}`, true));
  }

  const defaultTimeout = parseDuration(doc['timeout'], DEFAULT_STEP_TIMEOUT_MS);
  const steps: Step[] = [];
  (rawSteps as JsonObject[]).forEach((raw, i) => {
    const pointer = `/steps/${i}`;
    if (!isObject(raw)) return;
    const present = ACTIONS.filter((a) => a in raw);
    if (present.length !== 1) {
      problems.push({
        pointer,
        message: present.length === 0
          ? `a step needs one action: ${ACTIONS.join(', ')}`
          : `a step has exactly one action, this one has ${present.join(' and ')}`,
      });
      return;
    }
    for (const v of variableNames(raw)) checkVariable(v.name, `${pointer}${v.pointer}`, ctx);
    if (badSteps.has(i)) return;
    const kind = present[0] as (typeof ACTIONS)[number];
    const action = buildAction(kind, raw, `${pointer}/${kind}`, checkServer, ctx);
    if (action === undefined) return;
    if (action.kind === 'send') for (const saved of Object.keys(action.save ?? {})) ctx.variables[saved] = '';
    const line = source.locate(pointer)?.line;
    steps.push({
      index: i + 1,
      name: typeof raw['name'] === 'string' ? raw['name'] : describeAction(action),
      ...(line === undefined ? {} : { line }),
      timeoutMs: parseDuration(raw['timeout'], defaultTimeout),
      action,
    });
  });

  if (problems.length > 0) {
    const line = (p: SchemaProblem) => source.locate(p.pointer)?.line ?? 0;
    throw new ScenarioError([...problems].sort((a, b) => line(a) - line(b)).map((p) => formatProblem(source, p)));
  }
  const credentials = (key: string) => doc[key] as { user: string; password: string } | undefined;
  const auth = credentials('auth');
  const xenapi = credentials('xenapi');
  return {
    file: path,
    name: doc['name'] as string,
    ...(typeof doc['description'] === 'string' ? { description: doc['description'] } : {}),
    ...(cluster === undefined ? {} : { cluster }),
    members,
    external,
    start,
    startupTimeoutMs: parseDuration(doc['startup-timeout'], DEFAULT_STARTUP_TIMEOUT_MS),
    ...(auth === undefined ? {} : { auth }),
    ...(xenapi === undefined ? {} : { xenapi }),
    variables,
    steps,
  };
}

interface Ctx {
  readonly problems: SchemaProblem[];
  readonly known: readonly string[];
  readonly variables: Record<string, string>;
}

/** `${server1.url}`, `${vars.NAME}`, `${env.NAME}`: checked here so a typo fails before anything starts. */
function checkVariable(name: string, pointer: string, ctx: Ctx): void {
  const [head, field, ...rest] = name.split('.');
  const bad = (why: string): void => void ctx.problems.push({ pointer, message: `\${${name}}: ${why}` });
  if (field === undefined || rest.length > 0) return bad('use ${SERVER.url|name|port}, ${vars.NAME} or ${env.NAME}');
  if (head === 'env') return;
  if (head === 'vars') {
    if (!(field in ctx.variables)) bad(`no variable '${field}' in \`variables\` or saved by an earlier step`);
    return;
  }
  if (head === undefined || !ctx.known.includes(head)) return bad(`unknown server '${head ?? ''}'`);
  if (!['url', 'name', 'port'].includes(field)) bad(`a server has url, name and port, not '${field}'`);
}

function request(raw: JsonObject, pointer: string, ctx: Ctx, checkServer: (n: string, p: string) => void): Request {
  const via = (raw['via'] as Via | undefined) ?? 'kea';
  checkServer(raw['server'] as string, `${pointer}/server`);
  if (via === 'xenapi' && raw['arguments'] !== undefined) {
    ctx.problems.push({ pointer: `${pointer}/arguments`, message: 'via xenapi takes positional `params`, not `arguments`' });
  }
  if (via !== 'xenapi' && raw['params'] !== undefined) {
    ctx.problems.push({ pointer: `${pointer}/params`, message: `\`params\` are for via xenapi; via ${via} takes \`arguments\`` });
  }
  return {
    server: raw['server'] as string,
    command: raw['command'] as string,
    via,
    ...(raw['arguments'] === undefined ? {} : { arguments: raw['arguments'] as JsonObject }),
    ...(raw['params'] === undefined ? {} : { params: raw['params'] as unknown[] }),
  };
}

function buildAction(
  kind: (typeof ACTIONS)[number],
  step: JsonObject,
  pointer: string,
  checkServer: (n: string, p: string, managedOnly?: boolean) => void,
  ctx: Ctx,
): Action | undefined {
  const body = step[kind];
  switch (kind) {
    case 'send':
      return {
        kind,
        request: request(body as JsonObject, pointer, ctx, checkServer),
        ...(step['expect'] === undefined ? {} : { expect: step['expect'] as JsonObject }),
        ...(step['save'] === undefined ? {} : { save: step['save'] as Record<string, string> }),
      };
    case 'wait-until': {
      const b = body as JsonObject;
      return {
        kind,
        request: request(b, pointer, ctx, checkServer),
        match: b['match'] as JsonObject,
        intervalMs: parseDuration(b['interval'], DEFAULT_POLL_INTERVAL_MS),
      };
    }
    case 'expect-event': {
      const b = body as JsonObject;
      checkServer(b['server'] as string, `${pointer}/server`);
      return { kind, server: b['server'] as string, event: b['event'] as string, ...(b['match'] === undefined ? {} : { match: b['match'] as JsonObject }) };
    }
    case 'kill':
    case 'stop':
    case 'start':
    case 'restart': {
      const servers = asList(body);
      servers.forEach((n, i) => checkServer(n, Array.isArray(body) ? `${pointer}/${i}` : pointer, true));
      return { kind, servers };
    }
    case 'partition':
      return partition(body as JsonObject, pointer, checkServer, ctx);
    case 'heal': {
      if (body === 'all') return { kind, servers: 'all' };
      const servers = body as string[];
      servers.forEach((n, i) => checkServer(n, `${pointer}/${i}`));
      return { kind, servers };
    }
    case 'sleep':
      return { kind, ms: parseDuration(body, 0) };
  }
}

function partition(b: JsonObject, pointer: string, checkServer: (n: string, p: string) => void, ctx: Ctx): Action | undefined {
  const groups = b['groups'] as string[][] | undefined;
  if (groups !== undefined) {
    if (b['server'] !== undefined || b['peers'] !== undefined || b['direction'] !== undefined) {
      ctx.problems.push({ pointer, message: 'use either `groups` or `server` + `peers` (+ `direction`), not both' });
      return undefined;
    }
    groups.forEach((g, gi) => g.forEach((n, i) => checkServer(n, `${pointer}/groups/${gi}/${i}`)));
    const cuts = groups.flatMap((g, gi) => {
      const others = groups.flatMap((o, oi) => (oi === gi ? [] : o));
      return g.map((server) => ({ server, peers: others, direction: 'both' as CutDirection }));
    });
    return { kind: 'partition', cuts, groups };
  }
  if (b['server'] === undefined || b['peers'] === undefined) {
    ctx.problems.push({ pointer, message: 'needs `groups`, or `server` and `peers`' });
    return undefined;
  }
  checkServer(b['server'] as string, `${pointer}/server`);
  (b['peers'] as string[]).forEach((n, i) => checkServer(n, `${pointer}/peers/${i}`));
  return {
    kind: 'partition',
    cuts: [{ server: b['server'] as string, peers: b['peers'] as string[], direction: (b['direction'] as CutDirection | undefined) ?? 'both' }],
  };
}

/** The default name of a step, shown when the file gives none. */
export function describeAction(a: Action): string {
  switch (a.kind) {
    case 'send':
      return `send ${a.request.command} to ${a.request.server} (${a.request.via})`;
    case 'wait-until':
      return `wait until ${a.request.command} on ${a.request.server} matches`;
    case 'expect-event':
      return `expect event ${a.event} from ${a.server}`;
    case 'partition':
      if (a.groups !== undefined) return `partition ${a.groups.map((g) => g.join('+')).join(' | ')}`;
      return `partition ${a.cuts.map((c) => `${c.server}${c.direction === 'both' ? '<-x->' : c.direction === 'in' ? '<-x-' : '-x->'}${c.peers.join(',')}`).join(' ')}`;
    case 'heal':
      return `heal ${a.servers === 'all' ? 'all' : a.servers.join(', ')}`;
    case 'sleep':
      return `sleep ${a.ms >= 1000 && a.ms % 1000 === 0 ? `${a.ms / 1000}s` : `${a.ms}ms`}`;
    default:
      return `${a.kind} ${a.servers.join(', ')}`;
  }
}
