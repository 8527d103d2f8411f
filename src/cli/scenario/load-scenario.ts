import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../../core/errors.ts';
import { parseConfigText } from '../../core/config/parse-config.ts';
import { formatProblem } from '../../core/config/load-config.ts';
import type { ConfigSource } from '../../core/config/config-types.ts';
import { SchemaValidator, type SchemaProblem } from '../../core/schema-validator.ts';
import type { ClusterMember } from '../../core/hooks/hook-library.ts';
import type { JsonObject, Scenario, Step } from './scenario-types.ts';
import { ACTIONS, buildAction, describeAction, type Ctx } from './build-action.ts';
import { parseDuration } from './duration.ts';
import { variableNames } from './variables.ts';
import scenarioSchema from '../../../schemas/scenario.schema.json' with { type: 'json' };

export { parseDuration, describeAction };

/** Every problem of a scenario file, one line each: `file:line:col: path: message`. */
export class ScenarioError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ScenarioError';
  }
}

const DEFAULT_STEP_TIMEOUT_MS = 10_000;
const DEFAULT_STARTUP_TIMEOUT_MS = 20_000;

/** Replaces the schema's regular expressions in messages with words. */
function friendlier(p: SchemaProblem): SchemaProblem {
  if (p.message.startsWith('must match pattern "^[0-9]+(')) {
    return { pointer: p.pointer, message: 'must be a duration such as 500ms, 2s or 1m, or a number of milliseconds' };
  }
  return p;
}

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

