import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LivesetServer } from '../../src/core/server.ts';
import { builtinLibraries } from '../../src/hook-libs/builtin.ts';
import { serveCommand } from '../../src/cli/runtime-info.ts';
import { answers } from '../../src/cli/probe.ts';

/** Ports the OS hands out on 127.0.0.1, all held open together so they are distinct. */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () =>
      new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
        const s = createServer();
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => resolve(s));
      }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

export interface KeaAnswer {
  result: number;
  text?: string;
  arguments?: any;
  /** Present on failures when requested with `errorDetail`. */
  error?: string;
  params?: string[];
}

/**
 * Sends one Kea control-channel command and returns the first answer. `errorDetail` asks for the
 * error name and params on failures (header X-Liveset-Error-Detail), as liveset peers do.
 */
export async function keaCommand(
  url: string,
  command: string,
  args?: unknown,
  opts: { timeoutMs?: number; headers?: Record<string, string>; errorDetail?: boolean } = {},
): Promise<KeaAnswer> {
  const res = await fetch(new URL('/', url), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(opts.errorDetail ? { 'X-Liveset-Error-Detail': '1' } : {}), ...opts.headers },
    body: JSON.stringify(args === undefined ? { command } : { command, arguments: args }),
    signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
  });
  const body = (await res.json()) as KeaAnswer[] | KeaAnswer;
  if (!Array.isArray(body)) throw new Error(`HTTP ${res.status}: ${JSON.stringify(body)}`);
  return body[0] as KeaAnswer;
}

/** One JSON-RPC 2.0 call on POST /jsonrpc; returns the whole response object. */
export async function rpc(url: string, method: string, params?: unknown, id: number | string = 1): Promise<any> {
  const res = await fetch(new URL('/jsonrpc', url), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id, method, ...(params !== undefined ? { params } : {}) }),
    signal: AbortSignal.timeout(10_000),
  });
  return res.json();
}

/** Polls `fn` until it returns a truthy value (returned) or the timeout passes (throws with the last error). */
export async function waitFor<T>(fn: () => T | Promise<T>, opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${opts.timeoutMs ?? 10_000} ms waiting for ${opts.what ?? 'condition'} (last: ${detail})`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50));
  }
}

const running = new Set<ChildProcess>();
// Last line of defence only: each test stops its own processes by handle.
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface LivesetProcess {
  readonly name: string;
  readonly url: string;
  readonly configFile: string;
  readonly pid: number | undefined;
  /** Output so far (stdout and stderr), for diagnostics. */
  logs(): string;
  /** SIGTERM, then wait for exit (SIGKILL after 10 s). Returns the exit code or signal. */
  stop(): Promise<number | string | null>;
  /** SIGKILL, then wait for exit. */
  kill(): Promise<void>;
  /** Starts the same server again (after stop or kill) and waits until it answers. */
  restart(): Promise<void>;
  /** Resolves when the current process exits. */
  exited(): Promise<number | string | null>;
}

export interface StartOptions {
  /** A configuration object (written to a temporary JSON file) or a path to a file. */
  readonly config: Record<string, unknown> | string;
  readonly server?: string;
  readonly env?: Record<string, string>;
  readonly readyTimeoutMs?: number;
}

/** Starts `liveset serve` as a child process and waits until it answers `list-commands`. */
export async function startLiveset(opts: StartOptions): Promise<LivesetProcess> {
  let configFile: string;
  if (typeof opts.config === 'string') configFile = opts.config;
  else {
    configFile = join(mkdtempSync(join(tmpdir(), 'liveset-test-')), 'liveset.json');
    writeFileSync(configFile, JSON.stringify(opts.config, null, 2));
  }
  const [prepared] = await LivesetServer.check(configFile, opts.server, { ...process.env, ...opts.env }, builtinLibraries);
  if (!prepared) throw new Error(`${configFile}: no server to start`);
  const url = prepared.listen.href;
  let output = '';
  let child: ChildProcess;
  let exit: Promise<number | string | null>;

  const launch = async () => {
    const { cmd, args } = serveCommand(configFile, prepared.serverName, ['--log-format', 'json']);
    child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
    running.add(child);
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const c = child;
    exit = new Promise((resolve) =>
      c.once('exit', (code, signal) => {
        running.delete(c);
        resolve(signal ?? code);
      }),
    );
    let exitedEarly = false;
    void exit.then(() => (exitedEarly = true));
    await waitFor(
      async () => {
        if (exitedEarly) throw new Error('exited');
        // Any HTTP answer (even 401 from a server with authentication) means it is listening; with
        // server.tls the probe presents the server's own certificate.
        const tls = prepared.tls ? { ca: prepared.tls.ca, cert: prepared.tls.cert, key: prepared.tls.key } : undefined;
        if (!(await answers(url, tls))) throw new Error('no answer yet');
        return true;
      },
      { timeoutMs: opts.readyTimeoutMs ?? 60_000, what: `${prepared.serverName} to answer` },
    ).catch((err: Error) => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      throw new Error(`${prepared.serverName} did not start: ${err.message}\n--- output ---\n${output}`);
    });
  };
  await launch();

  const handle: LivesetProcess = {
    name: prepared.serverName,
    url,
    configFile,
    get pid() {
      return child.pid;
    },
    logs: () => output,
    exited: () => exit,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return exit;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const result = await exit;
      clearTimeout(timer);
      return result;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exit;
    },
    async restart() {
      if (child.exitCode === null && child.signalCode === null) throw new Error(`${prepared.serverName} is still running`);
      await launch();
    },
  };
  return handle;
}

/**
 * Starts one process per named member of a cluster configuration. If any fails to start, the ones
 * already started are stopped before the error is thrown; `cleanup` runs after every stop.
 */
export async function startMembers(
  config: Record<string, unknown>,
  names: readonly string[],
  cleanup: () => void = () => undefined,
  readyTimeoutMs?: number,
  /** Extra environment per server (the file may use ${VAR} for what differs between hosts). */
  envOf?: (name: string) => Record<string, string> | undefined,
): Promise<{ servers: Map<string, LivesetProcess>; stopAll(): Promise<void> }> {
  const servers = new Map<string, LivesetProcess>();
  const stopAll = async () => {
    await Promise.all([...servers.values()].map((s) => s.stop().catch(() => undefined)));
    cleanup();
  };
  // One file for the whole cluster, as operators write it (its directory also holds the pool secret).
  const configFile = join(mkdtempSync(join(tmpdir(), 'liveset-test-')), 'liveset.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  try {
    await Promise.all(names.map(async (n) => servers.set(n, await startLiveset({ config: configFile, server: n, ...(readyTimeoutMs !== undefined ? { readyTimeoutMs } : {}), ...(envOf?.(n) ? { env: envOf(n) } : {}) }))));
  } catch (err) {
    await stopAll();
    throw err;
  }
  return { servers, stopAll };
}
