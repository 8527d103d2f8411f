import { keaCommand } from '../test/helpers/liveset.ts';
import { Prng } from '../sim/prng.ts';
import type { Member } from './cluster.ts';

/** The exit status of a host that fenced itself (xhad's fence: the process exits, the host "reboots"). */
export const FENCE_EXIT = 75;

type Group = 'ha' | 'pool';
const groupOf = (m: Member): Group => (m.cluster === 'pool' ? 'pool' : 'ha');

/**
 * The fault driver: at random intervals it kills a member with SIGKILL (restarting it a few
 * seconds later), or partitions members with the fault-partition command and heals them. The HA
 * group is the pair and its witness; the pool group its three hosts. At most one member per group
 * is disturbed at a time, so each cluster can recover. A member that exits on its own — a pool host
 * that fenced (exit 75), or anything that crashed — is restarted like a killed one, after a
 * reboot delay.
 */
export class Driver {
  readonly actions: string[] = [];
  kills = 0;
  partitions = 0;
  /** Exits nobody asked for, by exit status (75: fenced). */
  readonly exits = new Map<string, number>();
  private readonly busy = new Set<Group>();
  private readonly pending = new Set<Promise<void>>();
  private stopping = false;
  private readonly watchers: Promise<void>[] = [];

  constructor(private readonly members: readonly Member[], private readonly prng: Prng, private readonly now: () => number) {
    for (const m of members) this.watchers.push(this.watch(m));
  }

  private note(text: string): void {
    this.actions.push(`${(this.now() / 1000).toFixed(1)}s ${text}`);
  }

  private track(p: Promise<void>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  get fences(): number {
    return this.exits.get(String(FENCE_EXIT)) ?? 0;
  }

  /** One random action on a group that is not already disturbed. */
  act(): void {
    const group = this.prng.pick<Group>(['ha', 'pool']);
    if (this.busy.has(group)) return;
    const members = this.members.filter((m) => groupOf(m) === group);
    const victim = this.prng.pick(members);
    const outageMs = this.prng.int(3000, 12_000);
    this.busy.add(group);
    if (this.prng.chance(0.6)) this.track(this.killAndRestart(victim, outageMs).finally(() => this.busy.delete(group)));
    else this.track(this.partition(victim, members, outageMs).finally(() => this.busy.delete(group)));
  }

  private async killAndRestart(m: Member, outageMs: number): Promise<void> {
    if (m.down) return;
    this.kills++;
    m.down = true;
    m.killedAt = this.now();
    m.lostAt = m.killedAt;
    this.note(`kill -9 ${m.name} for ${outageMs} ms`);
    await m.proc.kill();
    await new Promise((r) => setTimeout(r, outageMs));
    await this.restart(m);
  }

  private async restart(m: Member): Promise<void> {
    if (this.stopping) return;
    await m.proc.restart().catch((err: Error) => this.note(`restart of ${m.name} failed: ${err.message.split('\n')[0]}`));
    m.down = false;
    this.note(`${m.name} restarted`);
  }

  private async partition(m: Member, members: readonly Member[], outageMs: number): Promise<void> {
    this.partitions++;
    const others = members.filter((x) => x !== m);
    m.lostAt = this.now();
    this.note(`partition ${m.name} from ${others.map((x) => x.name).join(',')} for ${outageMs} ms`);
    const send = (to: Member, command: string, args: Record<string, unknown>) => keaCommand(to.proc.url, command, args, { timeoutMs: 5000 }).catch(() => undefined);
    await send(m, 'fault-partition', { peers: others.map((x) => x.name) });
    await Promise.all(others.map((o) => send(o, 'fault-partition', { peers: [m.name] })));
    await new Promise((r) => setTimeout(r, outageMs));
    await Promise.all(members.map((x) => send(x, 'fault-heal', {})));
    this.note(`healed ${m.name}`);
  }

  /**
   * Restarts a member whose process exits without the driver killing it (a fenced pool host exits
   * with 75): it is down until restarted, a reboot delay later. A restart that itself fails (the
   * process exits while starting) is retried the same way.
   */
  private async watch(m: Member): Promise<void> {
    while (!this.stopping) {
      const code = await m.proc.exited();
      if (this.stopping) return;
      if (m.down) {
        // Killed by the driver: its restart is under way; watch the next process.
        while (m.down && !this.stopping) await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      const key = String(code);
      this.exits.set(key, (this.exits.get(key) ?? 0) + 1);
      m.down = true;
      // Lost when it was cut off (a partition makes it fence within T), else now.
      if (m.lostAt === undefined || this.now() - m.lostAt > 30_000) m.lostAt = this.now();
      const rebootMs = this.prng.int(1000, 4000);
      this.note(`${m.name} exited with ${key}${code === FENCE_EXIT ? ' (fenced)' : ''}; restarting in ${rebootMs} ms`);
      let done!: () => void;
      this.track(new Promise<void>((r) => (done = r)));
      await new Promise((r) => setTimeout(r, rebootMs));
      await this.restart(m);
      done();
    }
  }

  /** Waits for every action in progress (kills restart, partitions heal, fenced hosts restart). */
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  /** Stops watching for exits (before the members are stopped on purpose). */
  stop(): void {
    this.stopping = true;
  }
}
