import type { Answer } from '../src/core/commands/answer.ts';
import { errorAnswer } from '../src/core/commands/error-answer.ts';
import type { CommandHandler } from '../src/core/commands/command.ts';
import { CommandError } from '../src/core/errors.ts';
import type { LibraryHandle } from '../src/core/hooks/hook-library.ts';
import { silentLogger, type Logger } from '../src/core/logger.ts';
import type { Store, StoreFactory } from '../src/store/store.ts';
import { memoryStoreFactory, type MemoryStoreFactory } from '../src/store/memory-store.ts';
import { toKeaAnswer } from '../src/transports/answer-mapping.ts';
import type { Endpoint, Network } from './network.ts';
import type { Trace } from './trace.ts';
import { hostClock, Incarnation, type World } from './world.ts';

/** How the simulator starts and kills one hook library on a host (the profile supplies it). */
export interface LibraryRunner<S> {
  /** Builds and starts the service on `handle` (commands registered through the handle). */
  start(handle: LibraryHandle): S | Promise<S>;
  /** kill -9: stop every timer and mark the service stopped; nothing is flushed. */
  kill(service: S): void;
}

/** Counts store operations in flight, so the simulator knows when a step has settled. */
class StoreActivity {
  busy = 0;

  track<T>(p: Promise<T>): Promise<T> {
    this.busy++;
    return p.finally(() => void this.busy--);
  }

  wrap(stores: StoreFactory): StoreFactory {
    return {
      open: async (name) => {
        const s = await this.track(stores.open(name));
        const wrapped: Store = {
          get snapshot() {
            return s.snapshot;
          },
          get records() {
            return s.records;
          },
          append: (r) => this.track(s.append(r)),
          writeSnapshot: (st) => this.track(s.writeSnapshot(st)),
          close: () => this.track(s.close()),
        };
        return wrapped;
      },
    };
  }
}

/**
 * One simulated server: a hook library's real shell and pure machine on a fake clock, a memory
 * store that outlives the process (its crash twin decides what survives), and an endpoint on the
 * simulated network. Each start is a new incarnation; a crash freezes the old one for good.
 */
export class SimHost<S> implements Endpoint {
  readonly disk: MemoryStoreFactory = memoryStoreFactory();
  readonly activity = new StoreActivity();
  private handlers = new Map<string, CommandHandler>();
  private inc = new Incarnation('', 0);
  service: S | undefined;
  skewMs = 0;
  /** Set when a crash should hit in the middle of this host's next store write. */
  crashOnWrite = false;
  restarts = 0;

  constructor(
    readonly name: string,
    private readonly world: World,
    private readonly net: Network,
    private readonly trace: Trace,
    private readonly runner: LibraryRunner<S>,
    private readonly parameters: unknown,
    private readonly logger: Logger = silentLogger,
  ) {
    net.attach(name, this);
  }

  get up(): boolean {
    return this.service !== undefined && this.inc.alive;
  }

  accepting(): Incarnation | undefined {
    return this.up ? this.inc : undefined;
  }

  /** Starts a new incarnation from whatever the disk kept. */
  async start(): Promise<void> {
    const inc = new Incarnation(this.name, this.inc.number + 1);
    this.inc = inc;
    this.handlers = new Map();
    const handlers = this.handlers;
    const handle: LibraryHandle = {
      parameters: this.parameters,
      serverName: this.name,
      selfUrl: '',
      configDir: '.',
      clock: hostClock(this.world, inc, () => this.skewMs),
      logger: this.logger,
      stores: this.activity.wrap(this.disk),
      callPeer: (peer, command, args, timeoutMs) => this.net.call(this.name, inc, peer.name, command, args ?? {}, timeoutMs),
      registerCommand: (spec) => void handlers.set(spec.name, spec.handler),
      registerCallout: () => undefined,
      registerStatus: () => undefined,
      runCallouts: async () => 'continue',
      publish: () => undefined,
      dispatch: (command, args) => this.serve(command, args),
    };
    try {
      const service = await this.runner.start(handle);
      if (inc.alive) this.service = service;
      else this.runner.kill(service);
    } catch (err) {
      if (inc.alive) throw err;
    }
  }

  /** kill -9: timers stop, unsynced store bytes are lost (torn if `tear`), the endpoint refuses. */
  crash(tear: boolean): void {
    this.inc.alive = false;
    this.crashOnWrite = false;
    this.disk.crash({ tear });
    if (this.service !== undefined) this.runner.kill(this.service);
    this.service = undefined;
    this.restarts++;
  }

  /**
   * A client's request straight to this host (clients sit next to it): the answer, or undefined
   * when the host is down or died before answering, so the client never saw an acknowledgement.
   */
  async request(command: string, args: Record<string, unknown>): Promise<Answer | undefined> {
    const inc = this.accepting();
    if (inc === undefined) return undefined;
    const a = await this.serve(command, args);
    return inc.alive ? a : undefined;
  }

  /** Unexpected exceptions out of a live host's handlers (each is a bug: the wire gets result 1). */
  readonly internalErrors: string[] = [];

  /** Runs a command as the registry would: CommandError becomes its answer; the wire drops the rest. */
  async serve(command: string, args: Record<string, unknown>): Promise<Answer> {
    const h = this.handlers.get(command);
    if (h === undefined) return { result: 2, text: `'${command}' command not supported.` };
    try {
      const a = await h(args, { transport: 'kea-http', positional: false, logger: this.logger });
      return toKeaAnswer(a, true) as unknown as Answer;
    } catch (err) {
      if (err instanceof CommandError) return toKeaAnswer(errorAnswer(err), true) as unknown as Answer;
      if (this.inc.alive) {
        this.internalErrors.push(`${this.name}: ${command} threw ${String(err)}`);
        this.trace.note(`${this.name} INTERNAL ERROR in ${command}: ${String(err)}`);
      }
      return { result: 1, text: `internal error: ${String(err)}`, error: 'INTERNAL_ERROR', params: [String(err)] };
    }
  }
}
