import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { readClusterFile, type ClusterFile } from './cluster.ts';
import { loadScenario, ScenarioError } from './load-scenario.ts';
import type { ManagedServer } from './processes.ts';
import { formatScenarioEnd, formatScenarioStart, formatStep, formatSummary, junitXml } from './report.ts';
import { runScenario, type ScenarioResult } from './runner.ts';
import type { Scenario } from './scenario-types.ts';

export const SCENARIO_USAGE = `usage: liveset scenario FILE... [--junit FILE] [--json] [--free-ports] [--log-lines N] [--verbose] [--ca FILE [--cert FILE --key FILE]]

Runs scripted scenarios against a real local cluster. Exits 0 only if every expectation held.
  --junit FILE    also write a JUnit XML report to FILE
  --json          print a machine-readable trace on stdout (progress goes to stderr)
  --free-ports    move every cluster member to a port the OS says is free (for parallel runs)
  --log-lines N   server log lines shown when a scenario fails (default 20)
  --verbose       stream every server's log lines while the scenario runs
  --ca FILE       for https:// servers (server.tls): the CA their certificates chain to (kea-shell's --ca)
  --cert, --key   the client certificate and key to present (servers with cert-required demand one)`;

const EXIT = { ok: 0, failed: 1, usage: 2, SIGINT: 130, SIGTERM: 143 } as const;

/** `liveset scenario ...`: returns the process exit code. Handles SIGINT/SIGTERM while it runs. */
export async function runScenarioCli(argv: string[]): Promise<number> {
  let args: ReturnType<typeof parse>;
  try {
    args = parse(argv);
  } catch (err) {
    process.stderr.write(`liveset scenario: ${(err as Error).message}\n${SCENARIO_USAGE}\n`);
    return EXIT.usage;
  }
  if (args.values.help === true) {
    process.stdout.write(`${SCENARIO_USAGE}\n`);
    return EXIT.ok;
  }
  const files = args.positionals;
  const logLines = Number(args.values['log-lines'] ?? '20');
  if ((args.values.cert === undefined) !== (args.values.key === undefined)) {
    process.stderr.write(`liveset scenario: --cert and --key must be given together\n${SCENARIO_USAGE}\n`);
    return EXIT.usage;
  }
  const tls: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {};
  for (const k of ['ca', 'cert', 'key'] as const) {
    const file = args.values[k];
    if (file === undefined) continue;
    try {
      tls[k] = await readFile(file);
    } catch (err) {
      process.stderr.write(`liveset scenario: --${k} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`);
      return EXIT.usage;
    }
  }
  if (files.length === 0 || !Number.isInteger(logLines) || logLines < 0) {
    process.stderr.write(`liveset scenario: ${files.length === 0 ? 'no scenario file given' : '--log-lines needs a whole number'}\n${SCENARIO_USAGE}\n`);
    return EXIT.usage;
  }
  const json = args.values.json === true;
  const say = (text: string) => (json ? process.stderr : process.stdout).write(`${text}\n`);

  // Load every file first: one bad file stops the run before any server starts.
  const clusters = new Map<string, ClusterFile>();
  const readCluster = async (path: string) => {
    const c = clusters.get(path) ?? (await readClusterFile(path, process.env));
    clusters.set(path, c);
    return c.members;
  };
  const scenarios: Scenario[] = [];
  const problems: string[] = [];
  for (const file of files) {
    try {
      scenarios.push(await loadScenario(file, readCluster));
    } catch (err) {
      if (!(err instanceof ScenarioError)) throw err;
      problems.push(...err.problems);
    }
  }
  if (problems.length > 0) {
    process.stderr.write(`liveset scenario: invalid scenario file${problems.length === 1 ? '' : 's'}:\n${problems.map((p) => `  ${p}`).join('\n')}\n`);
    return EXIT.failed;
  }

  const controller = new AbortController();
  const started = new Set<ManagedServer>();
  let interruptedBy: 'SIGINT' | 'SIGTERM' | undefined;
  const onSignal = (signal: 'SIGINT' | 'SIGTERM') => {
    if (interruptedBy !== undefined) {
      // Second signal: no more waiting for graceful stops.
      for (const s of started) s.killNow();
      return;
    }
    interruptedBy = signal;
    say(`\n${signal}: stopping the scenario and every server it started`);
    controller.abort();
  };
  const onInt = () => onSignal('SIGINT');
  const onTerm = () => onSignal('SIGTERM');
  const onExit = () => {
    for (const s of started) s.killNow();
  };
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  process.on('exit', onExit);

  const t0 = performance.now();
  const results: ScenarioResult[] = [];
  try {
    for (const scenario of scenarios) {
      if (controller.signal.aborted) break;
      say(formatScenarioStart(scenario.name, scenario.file, [...scenario.members.map((m) => m.name), ...Object.keys(scenario.external)]));
      const cluster = scenario.cluster === undefined ? undefined : clusters.get(scenario.cluster);
      const result = await runScenario(scenario, cluster, {
        freePorts: args.values['free-ports'] === true,
        signal: controller.signal,
        env: process.env,
        logLines,
        ...(Object.keys(tls).length > 0 ? { tls } : {}),
        track: (s) => started.add(s),
        onStep: (r) => say(formatStep(r).join('\n')),
        ...(args.values.verbose === true ? { onServerLine: (server: string, line: string) => say(`    ${server} | ${line}`) } : {}),
      });
      results.push(result);
      say(formatScenarioEnd(result).join('\n'));
    }
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    process.off('exit', onExit);
  }

  say(formatSummary(results, performance.now() - t0).join('\n'));
  const allPassed = results.length === scenarios.length && results.every((r) => r.status === 'passed');
  if (json) process.stdout.write(`${JSON.stringify({ passed: allPassed, scenarios: results }, null, 2)}\n`);
  const junit = args.values.junit;
  if (typeof junit === 'string') await writeFile(junit, junitXml(results));
  if (interruptedBy !== undefined) return EXIT[interruptedBy];
  return allPassed ? EXIT.ok : EXIT.failed;
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      junit: { type: 'string' },
      json: { type: 'boolean' },
      'free-ports': { type: 'boolean' },
      'log-lines': { type: 'string' },
      verbose: { type: 'boolean' },
      ca: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
