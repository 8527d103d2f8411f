import { systemClock } from '../../../src/core/clock.ts';
import type { Answer } from '../../../src/core/commands/answer.ts';
import { errorAnswer } from '../../../src/core/commands/error-answer.ts';
import { CommandError } from '../../../src/core/errors.ts';
import { toKeaAnswer } from '../../../src/transports/answer-mapping.ts';
import type { CommandContext, CommandHandler } from '../../../src/core/commands/command.ts';
import { PeerUnreachableError, type CalloutStatus, type LibraryHandle } from '../../../src/core/hooks/hook-library.ts';
import { pino } from 'pino';
import { silentLogger } from '../../../src/core/logger.ts';
import { memoryStoreFactory, type MemoryStoreFactory } from '../../../src/store/memory-store.ts';
import { loadPool } from '../../../src/hook-libs/pool/index.ts';
import type { PoolService } from '../../../src/hook-libs/pool/pool-service.ts';

/**
 * Three pool hosts in one process: real service shells on memory stores, peers wired to each
 * other's handlers as the Kea channel would (answers lose error/params, as on the wire). A host
 * can be "killed" (store crash, timers stopped, unreachable) and started again from its store.
 */
/** Runs a handler as the command registry does: a thrown CommandError becomes the error answer. */
async function runHandler(h: CommandHandler, args: Record<string, unknown>, ctx: CommandContext): Promise<Answer> {
  try {
    return await h(args, ctx);
  } catch (err) {
    if (err instanceof CommandError) return errorAnswer(err);
    throw err;
  }
}

export class SimPool {
  readonly stores = new Map<string, MemoryStoreFactory>();
  readonly handlers = new Map<string, Map<string, CommandHandler>>();
  readonly services = new Map<string, PoolService>();
  readonly down = new Set<string>();
  /** Callouts every host runs (a user library's view), and what each host published. */
  readonly callouts = new Map<string, (args: Record<string, unknown>) => CalloutStatus | Promise<CalloutStatus>>();
  readonly published: { host: string; event: string; data: unknown }[] = [];

  /** Every host's log lines, as parsed JSON with the host's name added. */
  readonly logged: Record<string, unknown>[] = [];

  constructor(readonly params: Record<string, unknown>, readonly faults = false) {}

  /** A logger for host `name` whose lines (info and above) land in `logged`. */
  private loggerFor(name: string) {
    return pino({ level: 'info' }, { write: (line: string) => void this.logged.push({ ...JSON.parse(line), host: name }) });
  }

  get names(): string[] {
    return (this.params['hosts'] as { name: string }[]).map((h) => h.name);
  }

  async start(name: string): Promise<PoolService> {
    const stores = this.stores.get(name) ?? memoryStoreFactory();
    this.stores.set(name, stores);
    const handlers = new Map<string, CommandHandler>();
    this.handlers.set(name, handlers);
    const handle: LibraryHandle = {
      parameters: this.params, serverName: name, selfUrl: '', configDir: '.', clock: systemClock, logger: this.loggerFor(name), stores,
      ...(this.faults ? { faults: { isCut: () => false } } : {}),
      callPeer: async (peer, command, args, timeoutMs) => {
        if (this.down.has(name)) throw new PeerUnreachableError(peer.name, 'caller is down');
        if (this.down.has(peer.name)) {
          await new Promise((r) => setTimeout(r, Math.min(timeoutMs, 5)));
          throw new PeerUnreachableError(peer.name, 'ECONNREFUSED');
        }
        const h = this.handlers.get(peer.name)?.get(command);
        if (!h) return { result: 2, text: `'${command}' command not supported.` };
        let timer: NodeJS.Timeout | undefined;
        const expired = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new PeerUnreachableError(peer.name, `no answer within ${timeoutMs} ms`)), timeoutMs);
        });
        const a = await Promise.race([runHandler(h, args ?? {}, this.ctx()), expired]).finally(() => clearTimeout(timer));
        if (this.down.has(peer.name)) throw new PeerUnreachableError(peer.name, 'connection reset');
        // What a peer receives over the Kea channel, error detail included.
        return toKeaAnswer(a, true) as unknown as Answer;
      },
      registerCommand: (spec) => void handlers.set(spec.name, spec.handler),
      registerCallout: () => undefined,
      registerStatus: () => undefined,
      runCallouts: async (point, args) => (await this.callouts.get(point)?.(args)) ?? 'continue',
      publish: (event, data) => void this.published.push({ host: name, event, data }),
      dispatch: async (command, args) => this.call(name, command, args),
    };
    this.down.delete(name);
    const svc = await loadPool(handle);
    this.services.set(name, svc);
    return svc;
  }

  ctx(transport: CommandContext['transport'] = 'kea-http'): CommandContext {
    return { transport, positional: false, logger: silentLogger };
  }

  async call(name: string, command: string, args: Record<string, unknown> = {}, transport: CommandContext['transport'] = 'kea-http'): Promise<Answer> {
    const h = this.handlers.get(name)?.get(command);
    if (!h) throw new Error(`no ${command} on ${name}`);
    return runHandler(h, args, this.ctx(transport));
  }

  /** The value of a successful call, or throws with the error name. */
  async ok(name: string, command: string, args: Record<string, unknown> = {}): Promise<unknown> {
    const a = await this.call(name, command, args);
    if (a.result !== 0) throw new Error(`${command} on ${name}: ${a.error} ${JSON.stringify(a.params)}`);
    return a.arguments;
  }

  /** kill -9: the process and its unsynced writes vanish. */
  kill(name: string): void {
    const svc = this.services.get(name);
    this.down.add(name);
    this.stores.get(name)?.crash();
    if (svc) {
      svc.stopped = true;
      svc.timers.stopAll();
    }
    this.services.delete(name);
  }

  status(name: string): Record<string, unknown> {
    const svc = this.services.get(name);
    if (!svc) return { role: 'down' };
    return { role: svc.acting(), master: svc.masterAddress(), generation: svc.db.generation };
  }

  async stopAll(): Promise<void> {
    for (const [name, svc] of this.services) {
      this.down.add(name);
      svc.stopped = true;
      svc.timers.stopAll();
    }
    this.services.clear();
  }
}

export function poolParams(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'lab', master: 'host1',
    hosts: [1, 2, 3].map((i) => ({ name: `host${i}`, url: `http://127.0.0.1:${9000 + i}/` })),
    credentials: [{ user: 'root', password: 'secret' }],
    'heartbeat-interval': 30, 'assumed-dead-interval': 600, 'forward-timeout': 300, 'proposal-timeout': 2500, 'database-sync-interval': 50,
    ...over,
  };
}

export async function until(fn: () => boolean | Promise<boolean>, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('condition not met in time');
}
