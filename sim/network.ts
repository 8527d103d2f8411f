import type { Answer } from '../src/core/commands/answer.ts';
import { PeerUnreachableError } from '../src/core/hooks/hook-library.ts';
import type { Prng } from './prng.ts';
import type { Trace } from './trace.ts';
import type { Incarnation, World } from './world.ts';

/** How the network misbehaves while faults are on; `calm` is a healthy LAN. */
export interface LinkQuality {
  readonly dropRate: number;
  readonly duplicateRate: number;
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
}

export const CALM: LinkQuality = { dropRate: 0, duplicateRate: 0, minDelayMs: 1, maxDelayMs: 5 };

/** The receiving side of a host: runs one request and says which incarnation answered. */
export interface Endpoint {
  /** The live incarnation accepting requests, or undefined when the process is down. */
  accepting(): Incarnation | undefined;
  serve(command: string, args: Record<string, unknown>): Promise<Answer>;
}

/** Sent when a process was reached but died before answering, as a TCP reset would tell. */
const RESET = 'connection reset by peer';

/**
 * The simulated wire between hosts. A request and its answer each take a random delay (so
 * messages overtake each other), may be dropped or, for requests, duplicated; directional cuts
 * model partitions. A caller that hears nothing gets the timeout it asked for, as over TCP.
 */
export class Network {
  quality: LinkQuality = CALM;
  private readonly cuts = new Set<string>();
  private readonly endpoints = new Map<string, Endpoint>();
  private messages = 0;

  constructor(private readonly world: World, private readonly prng: Prng, private readonly trace: Trace) {}

  attach(name: string, endpoint: Endpoint): void {
    this.endpoints.set(name, endpoint);
  }

  get sent(): number {
    return this.messages;
  }

  cut(from: string, to: string): void {
    this.cuts.add(`${from}>${to}`);
  }

  healAll(): void {
    this.cuts.clear();
  }

  isCut(from: string, to: string): boolean {
    return this.cuts.has(`${from}>${to}`);
  }

  describeCuts(): string {
    return [...this.cuts].sort().join(' ');
  }

  private delay(): number {
    return this.prng.int(this.quality.minDelayMs, this.quality.maxDelayMs);
  }

  private lost(from: string, to: string): boolean {
    return this.isCut(from, to) || this.prng.chance(this.quality.dropRate);
  }

  /** One call from `caller` (an incarnation of `from`) to `to`; the answer as a Kea peer sees it. */
  call(from: string, caller: Incarnation, to: string, command: string, args: Record<string, unknown>, timeoutMs: number): Promise<Answer> {
    this.messages++;
    return new Promise<Answer>((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void): void => {
        if (settled || !caller.alive) return;
        settled = true;
        timer.cancel();
        fn();
      };
      const timer = this.world.schedule(timeoutMs, `${from} timeout`, () =>
        settle(() => reject(new PeerUnreachableError(to, `no answer within ${timeoutMs} ms`))),
      );
      const send = (copy: string): void => {
        if (this.lost(from, to)) {
          this.trace.detail(`${from} -> ${to} ${command}${copy} lost`);
          return;
        }
        this.world.schedule(this.delay(), `deliver ${command}`, () => this.deliver(from, to, command, args, copy, settle, resolve, reject));
      };
      send('');
      if (this.prng.chance(this.quality.duplicateRate)) send(' (duplicate)');
    });
  }

  private deliver(
    from: string, to: string, command: string, args: Record<string, unknown>, copy: string,
    settle: (fn: () => void) => void, resolve: (a: Answer) => void, reject: (e: Error) => void,
  ): void {
    const endpoint = this.endpoints.get(to);
    const inc = endpoint?.accepting();
    const back = (what: string, fn: () => void): void => {
      if (this.lost(to, from)) {
        this.trace.detail(`${to} -> ${from} ${command} ${what} lost`);
        return;
      }
      this.world.schedule(this.delay(), `answer ${command}`, () => settle(fn));
    };
    if (endpoint === undefined || inc === undefined) {
      this.trace.detail(`${from} -> ${to} ${command}${copy}: refused (down)`);
      back('refusal', () => reject(new PeerUnreachableError(to, 'connect ECONNREFUSED')));
      return;
    }
    this.trace.detail(`${from} -> ${to} ${command}${copy}`);
    endpoint.serve(command, args).then(
      (answer) => {
        if (!inc.alive) return back('reset', () => reject(new PeerUnreachableError(to, RESET)));
        this.trace.detail(`${to} -> ${from} ${command} answer ${answer.result}${answer.error ? ` ${answer.error}` : ''}`);
        back('answer', () => resolve(answer));
      },
      () => back('reset', () => reject(new PeerUnreachableError(to, RESET))),
    );
  }
}
