import type { EventFeed } from './events.ts';
import type { ClientTls } from '../probe.ts';
import { findMismatch, type Mismatch } from './match.ts';
import type { ManagedServer } from './processes.ts';
import type { Action, Request, Scenario, Step } from './scenario-types.ts';
import { getPath, substitute } from './variables.ts';
import { send, WireError } from './wire.ts';

/** Everything a step can touch while the scenario runs. */
export interface StepContext {
  readonly scenario: Scenario;
  /** Current URL of every server. */
  readonly urls: Readonly<Record<string, string>>;
  readonly managed: ReadonlyMap<string, ManagedServer>;
  readonly feeds: ReadonlyMap<string, EventFeed>;
  readonly sessions: Map<string, string>;
  readonly signal: AbortSignal;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** When the latest step that is not an expect-event began: expect-event looks at events since then. */
  eventWindowStart: number;
  /** The scenario's variables plus what `save` stored so far. */
  readonly variables: Record<string, unknown>;
  readonly now: () => number;
  /** Client TLS for https:// servers. */
  readonly tls?: ClientTls;
}

export interface StepOutcome {
  readonly status: 'passed' | 'failed';
  readonly message?: string;
  readonly expected?: unknown;
  readonly actual?: unknown;
  readonly mismatch?: Mismatch;
  readonly polls?: number;
}

const passed = (extra: Omit<StepOutcome, 'status'> = {}): StepOutcome => ({ status: 'passed', ...extra });
const failed = (message: string, extra: Omit<StepOutcome, 'status' | 'message'> = {}): StepOutcome => ({ status: 'failed', message, ...extra });

function lookup(ctx: StepContext): (name: string) => unknown {
  return (name) => {
    const [head = '', field = ''] = name.split('.');
    if (head === 'env') {
      const v = ctx.env[field];
      if (v === undefined) throw new Error(`\${${name}}: environment variable ${field} is not set`);
      return v;
    }
    if (head === 'vars') {
      if (!(field in ctx.variables)) throw new Error(`\${${name}}: no such variable`);
      return ctx.variables[field];
    }
    const url = ctx.urls[head];
    if (url === undefined) throw new Error(`\${${name}}: unknown server ${head}`);
    if (field === 'url') return url;
    if (field === 'name') return head;
    if (field === 'port') return Number(new URL(url).port);
    throw new Error(`\${${name}}: unknown field ${field}`);
  };
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });

function wireOptions(ctx: StepContext, timeoutMs: number) {
  const { auth, xenapi } = ctx.scenario;
  return { timeoutMs, signal: ctx.signal, sessions: ctx.sessions, ...(auth === undefined ? {} : { auth }), ...(xenapi === undefined ? {} : { xenapi }), ...(ctx.tls === undefined ? {} : { tls: ctx.tls }) };
}

function sendTo(ctx: StepContext, req: Request, timeoutMs: number): Promise<unknown> {
  const url = ctx.urls[req.server];
  if (url === undefined) throw new WireError(`unknown server ${req.server}`);
  return send(url, req, wireOptions(ctx, timeoutMs));
}

/** Runs one step. Never throws: every problem becomes a failed outcome with a message. */
export async function executeStep(step: Step, ctx: StepContext): Promise<StepOutcome> {
  if (step.action.kind !== 'expect-event') ctx.eventWindowStart = ctx.now();
  try {
    const action = substitute(step.action, lookup(ctx));
    return await run(action, step.timeoutMs, ctx);
  } catch (err) {
    return failed((err as Error).message);
  }
}

async function run(action: Action, timeoutMs: number, ctx: StepContext): Promise<StepOutcome> {
  switch (action.kind) {
    case 'send': {
      const actual = await sendTo(ctx, action.request, timeoutMs);
      const mismatch = action.expect === undefined ? undefined : findMismatch(action.expect, actual);
      if (mismatch !== undefined) {
        return failed(`answer does not match at ${mismatch.path}: ${mismatch.reason}`, { expected: action.expect, actual, mismatch });
      }
      for (const [name, path] of Object.entries(action.save ?? {})) {
        const v = getPath(actual, path);
        if (v === undefined) return failed(`cannot save ${name}: the answer has nothing at ${path}`, { actual });
        ctx.variables[name] = v;
      }
      return passed({ actual });
    }
    case 'wait-until':
      return waitUntil(action, timeoutMs, ctx);
    case 'expect-event': {
      const feed = ctx.feeds.get(action.server);
      if (feed === undefined) return failed(`no event feed for ${action.server}`);
      const got = await feed.next(action.event, action.match, ctx.eventWindowStart, timeoutMs, ctx.signal);
      if (got.found !== undefined) return passed({ actual: { event: got.found.event, params: got.found.params } });
      const why = feed.problem === undefined ? '' : ` (subscription: ${feed.problem})`;
      const last = got.seen.at(-1);
      return failed(`no ${action.event} event${action.match === undefined ? '' : ' matching'} within ${timeoutMs} ms; ${got.seen.length} other ${action.event} event(s) seen${why}`, {
        expected: { event: action.event, params: action.match },
        actual: last === undefined ? undefined : { event: last.event, params: last.params },
        ...(got.mismatch === undefined ? {} : { mismatch: got.mismatch }),
      });
    }
    case 'kill':
    case 'stop':
    case 'start':
    case 'restart':
      await Promise.all(action.servers.map((name) => processAction(action.kind, name, timeoutMs, ctx)));
      return passed();
    case 'partition':
      for (const cut of action.cuts) {
        const answer = await sendTo(ctx, { server: cut.server, command: 'fault-partition', via: 'kea', arguments: { peers: cut.peers, direction: cut.direction } }, timeoutMs);
        if (findMismatch({ result: 0 }, answer) !== undefined) return failed(`fault-partition refused by ${cut.server}`, { expected: { result: 0 }, actual: answer });
      }
      return passed();
    case 'heal': {
      const targets = action.servers === 'all' ? Object.keys(ctx.urls).filter((n) => ctx.managed.get(n)?.running ?? true) : action.servers;
      for (const server of targets) {
        const answer = await sendTo(ctx, { server, command: 'fault-heal', via: 'kea', arguments: {} }, timeoutMs);
        if (findMismatch({ result: 0 }, answer) !== undefined) return failed(`fault-heal refused by ${server}`, { expected: { result: 0 }, actual: answer });
      }
      return passed();
    }
    case 'sleep':
      await sleep(action.ms, ctx.signal);
      return ctx.signal.aborted ? failed('interrupted') : passed();
  }
}

async function waitUntil(action: Extract<Action, { kind: 'wait-until' }>, timeoutMs: number, ctx: StepContext): Promise<StepOutcome> {
  const deadline = ctx.now() + timeoutMs;
  let polls = 0;
  let actual: unknown;
  let lastError: string | undefined;
  let mismatch: Mismatch | undefined;
  for (;;) {
    polls++;
    try {
      actual = await sendTo(ctx, action.request, Math.max(100, Math.min(deadline - ctx.now(), 5000)));
      lastError = undefined;
      mismatch = findMismatch(action.match, actual);
      if (mismatch === undefined) return passed({ actual, polls });
    } catch (err) {
      // A server that is down or restarting is exactly what one waits out.
      if (!(err instanceof WireError)) throw err;
      lastError = err.message;
    }
    if (ctx.now() + action.intervalMs > deadline || ctx.signal.aborted) break;
    await sleep(action.intervalMs, ctx.signal);
  }
  const why = lastError !== undefined ? `last poll got no answer: ${lastError}` : `last answer differs at ${mismatch?.path}: ${mismatch?.reason}`;
  return failed(`not matched within ${timeoutMs} ms after ${polls} polls; ${why}`, {
    expected: action.match,
    actual,
    polls,
    ...(mismatch === undefined ? {} : { mismatch }),
  });
}

async function processAction(kind: 'kill' | 'stop' | 'start' | 'restart', name: string, timeoutMs: number, ctx: StepContext): Promise<void> {
  const server = ctx.managed.get(name);
  if (server === undefined) throw new Error(`${name} is not a server this scenario started`);
  const url = ctx.urls[name] ?? server.url;
  const feed = ctx.feeds.get(name);
  const startup = Math.max(timeoutMs, ctx.scenario.startupTimeoutMs);
  if (kind === 'kill' || kind === 'stop' || kind === 'restart') {
    if (!server.running) throw new Error(`${name} is not running`);
    feed?.detach();
    if (kind === 'kill') await server.kill();
    else await server.stop(timeoutMs);
    ctx.sessions.delete(url);
  }
  if (kind === 'start' || kind === 'restart') {
    await server.start(startup, ctx.signal);
    await feed?.attach(url, Math.min(startup, 5000));
  }
}
