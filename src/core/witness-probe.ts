import type { Answer } from './commands/answer.ts';
import { ok } from './commands/answer.ts';
import type { Clock } from './clock.ts';
import { CommandError } from './errors.ts';
import type { PeerAddress } from './hooks/hook-library.ts';
import { PeerUnreachableError } from './hooks/hook-library.ts';

export type PeerCall = (peer: PeerAddress, command: string, args: Record<string, unknown>, timeoutMs: number) => Promise<Answer>;

/**
 * `ha-witness-probe`, the core's half of the HA witness protocol, so that any liveset server can
 * be a witness, even one that loads no library. Asked by one server of a pair, it heartbeats the
 * other and reports what came back. When the target does not answer and the caller asks for a
 * fence, probes *from* that target are refused for `fence-ms`: a server that one partner was just
 * told is unreachable must not win this witness's vote while that partner waits to take over
 * (docs/ha.md, Witnesses, has the argument).
 */
export class WitnessDesk {
  private readonly fencedUntil = new Map<string, number>();

  constructor(private readonly clock: Clock) {}

  async probe(args: Record<string, unknown>, call: PeerCall): Promise<Answer> {
    const now = this.clock.monotonicMs();
    const caller = args['caller'] as string | undefined;
    const fence = caller === undefined ? undefined : this.fencedUntil.get(caller);
    if (caller !== undefined && fence !== undefined) {
      if (fence > now) throw new CommandError('WITNESS_FENCED', [caller, String(fence - now)]);
      this.fencedUntil.delete(caller);
    }
    const target = args['server-name'] as string;
    const url = args['url'] as string;
    const user = args['basic-auth-user'] as string | undefined;
    const peer: PeerAddress = { name: target, url, ...(user !== undefined ? { auth: { user, password: (args['basic-auth-password'] as string | undefined) ?? '' } } : {}) };
    const timeoutMs = (args['timeout-ms'] as number | undefined) ?? 1000;
    try {
      const answer = await call(peer, 'ha-heartbeat', { 'server-name': target }, timeoutMs);
      // Any answer at all means the target's process is alive and listening.
      return ok(`Witness reached ${target}.`, {
        reached: true,
        'server-name': target,
        'elapsed-ms': this.clock.monotonicMs() - now,
        result: answer.result,
        ...(answer.text !== undefined ? { text: answer.text } : {}),
        ...(answer.arguments !== undefined ? { heartbeat: answer.arguments } : {}),
      });
    } catch (err) {
      if (!(err instanceof PeerUnreachableError)) throw err;
      const fenceMs = (args['fence-ms'] as number | undefined) ?? 0;
      const after = this.clock.monotonicMs();
      if (fenceMs > 0) this.fencedUntil.set(target, Math.max(this.fencedUntil.get(target) ?? 0, after + fenceMs));
      return ok(`Witness could not reach ${target}.`, { reached: false, 'server-name': target, 'elapsed-ms': after - now, reason: err.reason });
    }
  }

  /** Fences in force, for status-get. */
  describe(): Record<string, number> {
    const now = this.clock.monotonicMs();
    return Object.fromEntries([...this.fencedUntil].filter(([, until]) => until > now).map(([name, until]) => [name, until - now]));
  }
}
