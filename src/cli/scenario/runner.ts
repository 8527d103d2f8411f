import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { ClientTls } from '../probe.ts';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { EventFeed } from './events.ts';
import { ManagedServer } from './processes.ts';
import { runConfig, type ClusterFile } from './cluster.ts';
import { executeStep, type StepContext } from './steps.ts';
import type { Scenario } from './scenario-types.ts';
import type { Mismatch } from './match.ts';

export type StepStatus = 'passed' | 'failed' | 'skipped';

/** What happened in one step; the --json trace is a list of these per scenario. */
export interface StepResult {
  readonly index: number;
  readonly name: string;
  readonly action: string;
  readonly line?: number;
  readonly servers: readonly string[];
  readonly status: StepStatus;
  /** Milliseconds since the scenario started, and how long the step took. */
  readonly startedMs: number;
  readonly durationMs: number;
  readonly message?: string;
  readonly expected?: unknown;
  readonly actual?: unknown;
  readonly mismatch?: Mismatch;
  /** wait-until: how many times it asked. */
  readonly polls?: number;
}

export interface ScenarioResult {
  readonly file: string;
  readonly name: string;
  readonly status: 'passed' | 'failed' | 'interrupted';
  readonly durationMs: number;
  /** Set when the scenario could not even start (cluster failed to come up, ...). */
  readonly setupError?: string;
  readonly steps: readonly StepResult[];
  /** URL of each server, after any port rewriting. */
  readonly servers: Readonly<Record<string, string>>;
  /** Every process the run started (all stopped by the time the result exists). */
  readonly processes: readonly { readonly server: string; readonly pid: number }[];
  /** Last log lines of each started server, kept when something failed. */
  readonly logs: Readonly<Record<string, readonly string[]>>;
}

export interface RunOptions {
  /** Move every member to a port the OS says is free (see docs/scenarios.md). */
  readonly freePorts: boolean;
  /** Aborted on SIGINT/SIGTERM: the current step stops, the rest is skipped, servers are stopped. */
  readonly signal: AbortSignal;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly onStep?: (result: StepResult) => void;
  readonly onServerLine?: (server: string, line: string) => void;
  /** Called with every process the run starts, so the caller can kill it if the runner itself dies. */
  readonly track?: (server: ManagedServer) => void;
  readonly logLines?: number;
  /** Client TLS (--ca, --cert, --key) for servers with https:// URLs. */
  readonly tls?: ClientTls;
}

const STOP_GRACE_MS = 5000;

/** Writes the run's copy of the cluster file next to the original, so relative paths still resolve. */
async function writeRunConfig(original: string, config: unknown, runDir: string): Promise<{ path: string; temporary: boolean }> {
  const name = `.liveset-scenario-${process.pid}-${randomBytes(4).toString('hex')}-${basename(original)}.json`;
  const text = `${JSON.stringify(config, null, 2)}\n`;
  try {
    const path = join(dirname(original), name);
    await writeFile(path, text, { flag: 'wx' });
    return { path, temporary: true };
  } catch {
    const path = join(runDir, name.slice(1));
    await writeFile(path, text);
    return { path, temporary: false };
  }
}

/** Runs one scenario: starts its cluster, runs the steps until one fails, stops everything. */
export async function runScenario(scenario: Scenario, cluster: ClusterFile | undefined, opts: RunOptions): Promise<ScenarioResult> {
  const t0 = performance.now();
  const now = () => Math.round(performance.now() - t0);
  const runDir = await mkdtemp(join(tmpdir(), 'liveset-scenario-'));
  const managed = new Map<string, ManagedServer>();
  const feeds = new Map<string, EventFeed>();
  const urls: Record<string, string> = { ...scenario.external };
  const results: StepResult[] = [];
  let configCopy: string | undefined;
  let setupError: string | undefined;
  let failed = false;
  // Taken when something fails, before the servers are stopped, so the lines show the failure
  // rather than the shutdown.
  let logsAtFailure: Record<string, readonly string[]> | undefined;
  const logLines = opts.logLines ?? 20;
  const captureLogs = () => {
    logsAtFailure ??= Object.fromEntries([...managed.values()].map((s) => [s.name, s.lastLines(logLines)]));
  };

  try {
    if (cluster !== undefined) {
      const { config, members } = await runConfig(cluster, { dataDir: join(runDir, 'data'), freePorts: opts.freePorts });
      const written = await writeRunConfig(cluster.file, config, runDir);
      if (written.temporary) configCopy = written.path;
      for (const m of members) {
        urls[m.name] = m.url;
        const server = new ManagedServer(m.name, m.url, written.path, opts.onServerLine, opts.tls);
        managed.set(m.name, server);
        opts.track?.(server);
      }
    }
    for (const name of Object.keys(urls)) feeds.set(name, new EventFeed(now, scenario.auth, opts.tls));
    const ctx: StepContext = { scenario, urls, managed, feeds, sessions: new Map(), signal: opts.signal, env: opts.env, variables: { ...scenario.variables }, eventWindowStart: 0, now, ...(opts.tls === undefined ? {} : { tls: opts.tls }) };

    try {
      await Promise.all(scenario.start.map((n) => ctx.managed.get(n)?.start(scenario.startupTimeoutMs, opts.signal)));
      const live = Object.keys(urls).filter((n) => managed.get(n)?.running ?? true);
      await Promise.all(live.map((n) => feeds.get(n)?.attach(urls[n] ?? '', 5000)));
    } catch (err) {
      setupError = `starting the cluster: ${(err as Error).message}`;
      failed = true;
      captureLogs();
    }

    for (const step of scenario.steps) {
      const base = { index: step.index, name: step.name, action: step.action.kind, ...(step.line === undefined ? {} : { line: step.line }), servers: serversOf(step.action) };
      if (failed || opts.signal.aborted) {
        const skipped: StepResult = { ...base, status: 'skipped', startedMs: now(), durationMs: 0 };
        results.push(skipped);
        opts.onStep?.(skipped);
        continue;
      }
      const startedMs = now();
      const outcome = await executeStep(step, ctx);
      const result: StepResult = { ...base, ...outcome, startedMs, durationMs: now() - startedMs };
      if (opts.signal.aborted && result.status === 'failed') Object.assign(result, { message: `interrupted: ${result.message ?? ''}` });
      results.push(result);
      opts.onStep?.(result);
      if (result.status === 'failed') {
        failed = true;
        captureLogs();
      }
    }
  } catch (err) {
    setupError = (err as Error).message;
    failed = true;
    captureLogs();
  } finally {
    for (const feed of feeds.values()) feed.detach();
    await Promise.all(
      [...managed.values()].map((s) => s.stop(STOP_GRACE_MS).catch(() => s.kill())),
    );
    if (configCopy !== undefined) await rm(configCopy, { force: true });
    await rm(runDir, { recursive: true, force: true });
  }

  const logs = logsAtFailure ?? {};
  return {
    file: scenario.file,
    name: scenario.name,
    status: opts.signal.aborted ? 'interrupted' : failed ? 'failed' : 'passed',
    durationMs: now(),
    ...(setupError === undefined ? {} : { setupError }),
    steps: results,
    servers: urls,
    processes: [...managed.values()].flatMap((s) => s.pids.map((pid) => ({ server: s.name, pid }))),
    logs,
  };
}

function serversOf(action: Scenario['steps'][number]['action']): string[] {
  switch (action.kind) {
    case 'send':
    case 'wait-until':
      return [action.request.server];
    case 'expect-event':
      return [action.server];
    case 'partition':
      return [...new Set(action.cuts.map((c) => c.server))];
    case 'heal':
      return action.servers === 'all' ? [] : [...action.servers];
    case 'sleep':
      return [];
    default:
      return [...action.servers];
  }
}
