import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { ConfigError } from '../core/errors.ts';
import { LivesetServer } from '../core/server.ts';
import { builtinLibraries } from '../hook-libs/builtin.ts';
import { serveCommand } from './runtime-info.ts';
import { answers, type ClientTls } from './probe.ts';

const COLORS = [36, 33, 35, 32, 34, 31];

export interface ClusterProcesses {
  readonly members: readonly { name: string; url: string; tls?: ClientTls }[];
  /** Resolves once every child has exited. */
  readonly exited: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts every server a cluster file defines as a child process, prefixing each line of their
 * output with the server's name. The children are this process's responsibility: stop() sends
 * SIGTERM and, after 10 s, SIGKILL.
 */
export async function startCluster(file: string, out: NodeJS.WritableStream): Promise<ClusterProcesses> {
  const prepared = await LivesetServer.check(file, undefined, process.env, builtinLibraries);
  const color = process.stdout.isTTY === true;
  const children: { name: string; child: ChildProcess; done: Promise<void> }[] = [];
  const width = Math.max(...prepared.map((p) => p.serverName.length));
  prepared.forEach((p, i) => {
    const { cmd, args } = serveCommand(file, p.serverName, ['--log-format', color ? 'pretty' : 'json']);
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: color ? '1' : '0' } });
    const tag = p.serverName.padEnd(width);
    const prefix = color ? `\x1b[${COLORS[i % COLORS.length]}m${tag} |\x1b[0m ` : `${tag} | `;
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) createInterface({ input: stream }).on('line', (line) => out.write(`${prefix}${line}\n`));
    }
    const done = new Promise<void>((resolve) =>
      child.once('exit', (code, signal) => {
        out.write(`${prefix}exited (${signal ?? `code ${code}`})\n`);
        resolve();
      }),
    );
    children.push({ name: p.serverName, child, done });
  });
  const exited = Promise.all(children.map((c) => c.done)).then(() => undefined);
  // Whatever ends this process (an exception, EPIPE on a closed pager), the servers must not outlive it.
  process.once('exit', () => {
    for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  });
  return {
    // With server.tls the readiness check presents the server's own certificate and trusts its anchor.
    members: prepared.map((p) => ({ name: p.serverName, url: p.listen.href, ...(p.tls ? { tls: { ca: p.tls.ca, cert: p.tls.cert, key: p.tls.key } } : {}) })),
    exited,
    async stop() {
      for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => {
        for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }, 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** `liveset up -c FILE`: runs the whole cluster in the foreground until Ctrl-C or SIGTERM. */
export async function upCli(argv: string[], banner?: (members: readonly { name: string; url: string }[]) => string): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' } } });
  if (!values.config) {
    process.stderr.write('usage: liveset up -c FILE\n');
    return 2;
  }
  let cluster: ClusterProcesses;
  try {
    cluster = await startCluster(values.config, process.stdout);
  } catch (err) {
    const lines = err instanceof ConfigError ? err.problems : [(err as Error).message];
    process.stderr.write(`liveset up: ${lines.join('\n')}\n`);
    return 1;
  }
  if (banner) {
    await waitUntilAnswering(cluster.members, 20_000);
    process.stdout.write(banner(cluster.members));
  }
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('stopping all servers...\n');
    void cluster.stop();
  };
  // Output piped into a pager or `head` that has gone away: stop the cluster rather than crash.
  process.stdout.on('error', stop);
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  await cluster.exited;
  return stopping ? 0 : 1;
}

async function waitUntilAnswering(members: ClusterProcesses['members'], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const m of members) {
    while (Date.now() < deadline && !(await answers(m.url, m.tls))) await new Promise((r) => setTimeout(r, 100));
  }
}
