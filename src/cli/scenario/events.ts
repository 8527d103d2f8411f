import type WebSocket from 'ws';
import { findMismatch, type Mismatch } from './match.ts';
import { openSocket } from './wire.ts';
import type { ClientTls } from '../probe.ts';
import type { Credentials, JsonObject } from './scenario-types.ts';

export interface ReceivedEvent {
  readonly event: string;
  readonly params: unknown;
  /** Milliseconds since the scenario started. */
  readonly at: number;
}

/**
 * Every event one server publishes, from the moment the runner subscribed (`subscribe
 * {events: ["*"]}` on `/ws`), kept across restarts of the server. `expect-event` looks at the
 * events that arrived since a given time and consumes them in order: each match moves a cursor
 * past the matched event.
 */
export class EventFeed {
  readonly events: ReceivedEvent[] = [];
  private cursor = 0;
  private socket: WebSocket | undefined;
  private waiters = new Set<() => void>();
  /** Why the last subscription attempt failed, if it did. */
  problem: string | undefined;

  constructor(
    private readonly now: () => number,
    private readonly auth?: Credentials,
    private readonly tls?: ClientTls,
  ) {}

  /** Subscribes to everything the server at `url` publishes. */
  async attach(url: string, timeoutMs: number): Promise<void> {
    this.detach();
    try {
      const socket = await openSocket(url, { timeoutMs, ...(this.auth === undefined ? {} : { auth: this.auth }), ...(this.tls === undefined ? {} : { tls: this.tls }) });
      this.socket = socket;
      const subscribed = new Promise<void>((resolve, reject) => {
        socket.on('message', (data) => {
          let msg: { id?: unknown; method?: unknown; params?: unknown; error?: { message?: string } };
          try {
            msg = JSON.parse(String(data)) as typeof msg;
          } catch {
            return;
          }
          if (msg.id === 'liveset-scenario-subscribe') {
            if (msg.error !== undefined) reject(new Error(`subscribe refused: ${JSON.stringify(msg.error)}`));
            else resolve();
          } else if (typeof msg.method === 'string' && msg.id === undefined) {
            this.events.push({ event: msg.method, params: msg.params, at: this.now() });
            for (const wake of this.waiters) wake();
          }
        });
        socket.once('close', () => reject(new Error('connection closed before subscribing')));
      });
      socket.send(JSON.stringify({ jsonrpc: '2.0', id: 'liveset-scenario-subscribe', method: 'subscribe', params: { events: ['*'] } }));
      await subscribed;
      this.problem = undefined;
    } catch (err) {
      this.problem = (err as Error).message;
    }
  }

  detach(): void {
    this.socket?.terminate();
    this.socket = undefined;
  }

  /**
   * Waits for the next not yet consumed event called `event` whose params match `match`.
   * Resolves with it, or with the closest candidate's mismatch when the time is up.
   */
  async next(
    event: string,
    match: JsonObject | undefined,
    since: number,
    timeoutMs: number,
    signal: AbortSignal,
  ): Promise<{ found: ReceivedEvent } | { found?: undefined; seen: ReceivedEvent[]; mismatch?: Mismatch }> {
    const deadline = this.now() + timeoutMs;
    let scanned = this.cursor;
    for (;;) {
      for (; scanned < this.events.length; scanned++) {
        const e = this.events[scanned];
        if (e === undefined || e.at < since) continue;
        if (e.event === event && (match === undefined || findMismatch(match, e.params) === undefined)) {
          this.cursor = scanned + 1;
          return { found: e };
        }
      }
      const left = deadline - this.now();
      if (left <= 0 || signal.aborted) {
        const seen = this.events.slice(this.cursor).filter((e) => e.event === event && e.at >= since);
        const last = seen.at(-1);
        return last !== undefined && match !== undefined ? { seen, mismatch: findMismatch(match, last.params) } : { seen };
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', wake);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        signal.addEventListener('abort', wake);
        this.waiters.add(wake);
      });
    }
  }
}
