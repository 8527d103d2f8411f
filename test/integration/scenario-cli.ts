/** Runs `liveset scenario` as a real child process for the scenario integration tests. */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cliArgs } from '../../src/cli/runtime-info.ts';
import type { ScenarioResult } from '../../src/cli/scenario/runner.ts';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const example = (name: string): string => fileURLToPath(new URL(`../../examples/scenarios/${name}`, import.meta.url));

export interface CliRun {
  readonly child: ChildProcess;
  /** Resolves when the CLI exits. */
  readonly done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  /** Resolves once stderr (the progress output under --json) contains `text`. */
  waitForOutput(text: string | RegExp): Promise<void>;
}

export function runScenarioCli(args: string[]): CliRun {
  const child = spawn(process.execPath, cliArgs(['scenario', ...args]), {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
    for (const l of listeners) l();
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
    for (const l of listeners) l();
  });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  const waitForOutput = (text: string | RegExp) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        const all = stdout + stderr;
        if (typeof text === 'string' ? all.includes(text) : text.test(all)) {
          listeners.delete(check);
          resolve();
        }
      };
      listeners.add(check);
      void done.then(() => {
        listeners.delete(check);
        reject(new Error(`CLI exited before printing ${String(text)}:\n${stdout}\n${stderr}`));
      });
      check();
    });
  return { child, done, waitForOutput };
}

/** Parses the --json trace from the CLI's stdout. */
export function trace(stdout: string): { passed: boolean; scenarios: ScenarioResult[] } {
  return JSON.parse(stdout) as { passed: boolean; scenarios: ScenarioResult[] };
}

/** Process ids from a trace that are still alive (should be none). */
export function survivors(t: { scenarios: readonly ScenarioResult[] }): number[] {
  return t.scenarios.flatMap((s) => s.processes.map((p) => p.pid)).filter((pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  });
}

/** Last resort after a failed assertion: no test leaves servers behind. */
export function killAll(t: { scenarios: readonly ScenarioResult[] } | undefined): void {
  for (const pid of t === undefined ? [] : survivors(t)) process.kill(pid, 'SIGKILL');
}

/** Runs one example scenario through the CLI on free ports and expects every step to hold. */
export async function runExample(t: { after(fn: () => void): void }, file: string): Promise<void> {
  const run = runScenarioCli([example(file), '--free-ports', '--json']);
  t.after(() => run.child.kill('SIGKILL'));
  const { code, stdout, stderr } = await run.done;
  const result = trace(stdout);
  t.after(() => killAll(result));
  assert.equal(code, 0, `scenario ${file} failed:\n${stderr}`);
  assert.equal(result.passed, true);
  const [scenario] = result.scenarios;
  assert.ok(scenario !== undefined && scenario.steps.length > 0);
  assert.deepEqual(scenario.steps.filter((s) => s.status !== 'passed').map((s) => s.name), []);
  assert.ok(scenario.processes.length >= 2, 'the cluster was started');
  assert.deepEqual(survivors(result), [], 'every server the scenario started is stopped');
}

