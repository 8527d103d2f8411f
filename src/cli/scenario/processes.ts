import { spawn, type ChildProcess } from 'node:child_process';
import { answers, type ClientTls } from '../probe.ts';
import { createInterface } from 'node:readline';
import { REPO_ROOT, serveCommand } from '../runtime-info.ts';

const LOG_LINES_KEPT = 200;


const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** A pino JSON line as `12:00:01.234 INFO MSG_ID text`; anything else as it is. */
export function formatLogLine(line: string): string {
  if (!line.startsWith('{')) return line;
  try {
    const r = JSON.parse(line) as { level?: number; time?: number; msgId?: string; msg?: string };
    const time = typeof r.time === 'number' ? new Date(r.time).toISOString().slice(11, 23) : '';
    return [time, LEVELS[r.level ?? 0] ?? String(r.level ?? ''), r.msgId, r.msg].filter((x) => x !== undefined && x !== '').join(' ');
  } catch {
    return line;
  }
}

/** A cluster member the scenario starts and stops. Its output is kept for failure reports. */
export class ManagedServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly lines: string[] = [];
  /** How the last process ended, for messages. */
  private lastExit = '';
  /** Every process id this server had, so a caller can check none outlived the run. */
  readonly pids: number[] = [];

  constructor(
    readonly name: string,
    readonly url: string,
    private readonly configPath: string,
    private readonly onLine: (server: string, line: string) => void = () => {},
    private readonly tls?: ClientTls,
  ) {}

  get running(): boolean {
    return this.child !== undefined;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The last `n` lines the server printed (across restarts). */
  lastLines(n: number): string[] {
    return this.lines.slice(-n);
  }

  private keep(line: string): void {
    const text = formatLogLine(line);
    this.lines.push(text);
    if (this.lines.length > LOG_LINES_KEPT) this.lines.splice(0, this.lines.length - LOG_LINES_KEPT);
    this.onLine(this.name, text);
  }

  /** Spawns the server and waits until it answers on its URL. */
  async start(timeoutMs: number, signal: AbortSignal): Promise<void> {
    if (this.child !== undefined) throw new Error(`${this.name} is already running (pid ${this.child.pid})`);
    const { cmd, args } = serveCommand(this.configPath, this.name);
    const child = spawn(cmd, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    this.child = child;
    if (child.pid !== undefined) this.pids.push(child.pid);
    for (const stream of [child.stdout, child.stderr]) createInterface({ input: stream }).on('line', (l) => this.keep(l));
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, sig) => {
        this.lastExit = sig !== null ? `killed by ${sig}` : `exited with code ${code}`;
        if (this.child === child) this.child = undefined;
        resolve();
      });
    });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.child !== child) throw new Error(`${this.name} ${this.lastExit} while starting`);
      if (await this.answers()) return;
      if (signal.aborted) throw new Error('interrupted');
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(`${this.name} did not answer on ${this.url} within ${timeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The server answers HTTP (https with the run's client TLS) at all. */
  private answers(): Promise<boolean> {
    return answers(this.url, this.tls);
  }

  /** SIGTERM, then wait for the exit; after `timeoutMs` SIGKILL and report it. */
  async stop(timeoutMs: number): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    child.kill('SIGTERM');
    const inTime = await Promise.race([this.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs).unref())]);
    if (!inTime) {
      await this.kill();
      throw new Error(`${this.name} did not stop within ${timeoutMs} ms of SIGTERM; killed it`);
    }
  }

  /** SIGKILL, then wait for the exit. */
  async kill(): Promise<void> {
    if (this.child === undefined) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Synchronous last resort for process exit handlers. */
  killNow(): void {
    this.child?.kill('SIGKILL');
  }
}
