import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The bench's child scripts compiled to JavaScript (tsconfig.bench.json, `npm run bench` builds
 * them): baselines and load clients run as plain Node.js, as the liveset servers they are compared
 * with do, so no TypeScript loader is counted on either side.
 */
export const BENCH_JS_DIR = fileURLToPath(new URL('../../.bench-build/bench/', import.meta.url));

const live = new Set<ChildProcess>();

/** Every child this run started; `stopAll` ends whatever a failed section left behind. */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((c) => stopChild(c)));
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the child has exited. */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export interface Started {
  readonly child: ChildProcess;
  /** Resolves with the first stdout line that parses as JSON. */
  readonly firstJson: Promise<any>;
  /** Resolves with the last stdout JSON line once the child exits (rejects on a non-zero exit). */
  readonly result: Promise<any>;
}

/** Runs the compiled `bench/<script>` with one JSON argument; children talk back in JSON lines. */
export function startScript(script: string, arg: unknown, nodeArgs: readonly string[] = []): Started {
  const compiled = BENCH_JS_DIR + script.replace(/\.ts$/, '.js');
  if (!existsSync(compiled)) throw new Error(`${compiled} is missing: run the bench with \`npm run bench\`, which compiles it`);
  const child = spawn(process.execPath, [...nodeArgs, compiled, JSON.stringify(arg)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let out = '';
  let err = '';
  let lastJson: unknown;
  let resolveFirst: (v: any) => void = () => {};
  let rejectFirst: (e: Error) => void = () => {};
  const firstJson = new Promise<any>((res, rej) => ((resolveFirst = res), (rejectFirst = rej)));
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    let nl: number;
    while ((nl = out.indexOf('\n')) >= 0) {
      const line = out.slice(0, nl).trim();
      out = out.slice(nl + 1);
      if (!line.startsWith('{')) continue;
      try {
        lastJson = JSON.parse(line);
        resolveFirst(lastJson);
      } catch {
        // not a report line
      }
    }
  });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const result = new Promise<any>((resolve, reject) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      const failure = new Error(`${script} exited with ${signal ?? code}: ${err.slice(-2000)}`);
      rejectFirst(failure);
      if (code === 0 || (signal === 'SIGTERM' && lastJson !== undefined)) resolve(lastJson);
      else reject(failure);
    });
  });
  result.catch(() => undefined);
  firstJson.catch(() => undefined);
  return { child, firstJson, result };
}

/** Starts a server script that prints `{"port": N}` once listening. */
export async function startServerScript(script: string, arg: unknown): Promise<{ child: ChildProcess; url: string; stop(): Promise<void> }> {
  const s = startScript(script, arg);
  const ready = (await s.firstJson) as { port: number };
  return { child: s.child, url: `http://127.0.0.1:${ready.port}/`, stop: () => stopChild(s.child) };
}

/** Runs a load script to completion and returns its report. */
export function runScript<T>(script: string, arg: unknown): Promise<T> {
  return startScript(script, arg).result as Promise<T>;
}
