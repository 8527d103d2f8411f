import type { Action, CutDirection, JsonObject, Request, Via } from './scenario-types.ts';
import type { SchemaProblem } from '../../core/schema-validator.ts';
import { parseDuration } from './duration.ts';

export const ACTIONS = ['send', 'wait-until', 'expect-event', 'kill', 'stop', 'start', 'restart', 'partition', 'heal', 'sleep'] as const;
const DEFAULT_POLL_INTERVAL_MS = 100;

/** What building a step's action may report problems to and check names against. */
export interface Ctx {
  readonly problems: SchemaProblem[];
  readonly known: readonly string[];
  readonly variables: Record<string, string>;
}

const asList = (v: unknown): string[] => (Array.isArray(v) ? (v as string[]) : [v as string]);

type CheckServer = (name: string, pointer: string, managedOnly?: boolean) => void;

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

/** Turns one schema-valid step into its action, reporting cross-field problems to `ctx`. */
export function buildAction(
  kind: (typeof ACTIONS)[number],
  step: JsonObject,
  pointer: string,
  checkServer: CheckServer,
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
