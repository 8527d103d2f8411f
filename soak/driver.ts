import { keaCommand } from '../test/helpers/liveset.ts';
import { Prng } from '../sim/prng.ts';
import type { Member } from './cluster.ts';

/**
 * The fault driver: at random intervals it kills a member with SIGKILL (restarting it a few
 * seconds later), or partitions members with the fault-partition command and heals them. At
 * most one member per cluster is down or cut off at a time, so each cluster can recover.
 */
export class Driver {
  readonly actions: string[] = [];
  kills = 0;
  partitions = 0;
  private readonly busy = new Set<'ha' | 'pool'>();
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly members: readonly Member[], private readonly prng: Prng, private readonly now: () => number) {}

  private note(text: string): void {
    this.actions.push(`${(this.now() / 1000).toFixed(1)}s ${text}`);
  }

  private track(p: Promise<void>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /** One random action on a cluster that is not already disturbed. */
  act(): void {
    const cluster = this.prng.pick<'ha' | 'pool'>(['ha', 'pool']);
    if (this.busy.has(cluster)) return;
    const members = this.members.filter((m) => m.cluster === cluster);
    const victim = this.prng.pick(members);
    const outageMs = this.prng.int(3000, 12_000);
    this.busy.add(cluster);
    if (this.prng.chance(0.6)) this.track(this.killAndRestart(victim, outageMs).finally(() => this.busy.delete(cluster)));
    else this.track(this.partition(victim, members, outageMs).finally(() => this.busy.delete(cluster)));
  }

  private async killAndRestart(m: Member, outageMs: number): Promise<void> {
    this.kills++;
    m.down = true;
    m.killedAt = this.now();
    this.note(`kill -9 ${m.name} for ${outageMs} ms`);
    await m.proc.kill();
    await new Promise((r) => setTimeout(r, outageMs));
    await m.proc.restart().catch((err: Error) => this.note(`restart of ${m.name} failed: ${err.message.split('\n')[0]}`));
    m.down = false;
    this.note(`${m.name} restarted`);
  }

  private async partition(m: Member, members: readonly Member[], outageMs: number): Promise<void> {
    this.partitions++;
    const others = members.filter((x) => x !== m);
    this.note(`partition ${m.name} from ${others.map((x) => x.name).join(',')} for ${outageMs} ms`);
    const send = (to: Member, command: string, args: Record<string, unknown>) => keaCommand(to.proc.url, command, args, { timeoutMs: 5000 }).catch(() => undefined);
    await send(m, 'fault-partition', { peers: others.map((x) => x.name) });
    await Promise.all(others.map((o) => send(o, 'fault-partition', { peers: [m.name] })));
    await new Promise((r) => setTimeout(r, outageMs));
    await Promise.all(members.map((x) => send(x, 'fault-heal', {})));
    this.note(`healed ${m.name}`);
  }

  /** Waits for every action in progress (kills restart, partitions heal). */
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }
}
