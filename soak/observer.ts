import { keaCommand } from '../test/helpers/liveset.ts';
import type { Member } from './cluster.ts';

export interface Violation {
  readonly atMs: number;
  readonly what: string;
  /** The last log lines of every member when it was seen. */
  readonly logs: string;
}

export interface Failover {
  readonly cluster: 'ha' | 'pool';
  readonly what: string;
  readonly ms: number;
}

interface HaView {
  readonly state: string;
  readonly served: readonly string[];
}

const tail = (m: Member, n: number): string => m.proc.logs().trimEnd().split('\n').slice(-n).map((l) => `  ${m.name}| ${l.slice(0, 300)}`).join('\n');

/**
 * The outside pollers: they ask each live member what it is doing, as an operator's monitoring
 * would, and check the same invariants as the simulator. A suspected violation is polled again
 * at once (two polls are not one instant) and recorded only if it holds on the second look.
 */
export class Observer {
  readonly violations: Violation[] = [];
  readonly failovers: Failover[] = [];
  readonly transitions: string[] = [];
  polls = 0;
  private readonly haState = new Map<string, string>();
  private master: string | undefined;

  constructor(private readonly members: readonly Member[], private readonly now: () => number) {}

  private up(cluster: 'ha' | 'pool'): Member[] {
    return this.members.filter((m) => m.cluster === cluster && !m.down);
  }

  private async haView(m: Member): Promise<HaView | undefined> {
    const a = await keaCommand(m.proc.url, 'ha-query', { key: 'soak' }, { timeoutMs: 3000 }).catch(() => undefined);
    const args = a?.arguments as { state?: string; scopes?: string[]; 'service-enabled'?: boolean } | undefined;
    if (args?.state === undefined) return undefined;
    return { state: args.state, served: args['service-enabled'] === true ? (args.scopes ?? []) : [] };
  }

  private async poolRole(m: Member): Promise<{ role: string; master: string } | undefined> {
    const a = await keaCommand(m.proc.url, 'host.local_status', {}, { timeoutMs: 3000 }).catch(() => undefined);
    const s = a?.arguments as { role?: string; master_address?: string } | undefined;
    return s?.role === undefined ? undefined : { role: s.role, master: s.master_address ?? '' };
  }

  private violation(what: string): void {
    const logs = this.members.map((m) => tail(m, 15)).join('\n');
    this.violations.push({ atMs: this.now(), what, logs });
  }

  /** Two HA servers serve one scope and neither is in partner-down. */
  private async haOverlap(): Promise<string | undefined> {
    const views = await Promise.all(this.up('ha').map(async (m) => ({ m, v: await this.haView(m) })));
    for (const { m, v } of views) {
      if (v === undefined) continue;
      const before = this.haState.get(m.name);
      if (before !== v.state) {
        this.transitions.push(`${(this.now() / 1000).toFixed(1)}s ${m.name} ${before ?? 'start'} -> ${v.state}`);
        this.haState.set(m.name, v.state);
        this.noteHaFailover(m, v.state);
      }
    }
    const seen = views.filter((x): x is { m: Member; v: HaView } => x.v !== undefined);
    for (const a of seen) {
      for (const b of seen) {
        if (a.m.name >= b.m.name) continue;
        const both = a.v.served.filter((s) => b.v.served.includes(s));
        if (both.length > 0 && a.v.state !== 'partner-down' && b.v.state !== 'partner-down') {
          return `scope ${both.join(',')} served by ${a.m.name} (${a.v.state}) and ${b.m.name} (${b.v.state})`;
        }
      }
    }
    return undefined;
  }

  /** Failover = the survivor entering partner-down after the driver killed its partner. */
  private noteHaFailover(m: Member, state: string): void {
    if (state !== 'partner-down') return;
    const victim = this.members.find((x) => x.cluster === 'ha' && x !== m && x.killedAt !== undefined);
    if (victim?.killedAt !== undefined) {
      this.failovers.push({ cluster: 'ha', what: `${victim.name} killed -> ${m.name} partner-down`, ms: this.now() - victim.killedAt });
      victim.killedAt = undefined;
    }
  }

  private async poolMasters(): Promise<string[]> {
    const roles = await Promise.all(this.up('pool').map(async (m) => ({ m, r: await this.poolRole(m) })));
    const masters = roles.filter((x) => x.r?.role === 'master').map((x) => x.m.name);
    if (masters.length === 1 && masters[0] !== this.master) {
      if (this.master !== undefined) this.transitions.push(`${(this.now() / 1000).toFixed(1)}s pool master ${this.master} -> ${masters[0]}`);
      this.master = masters[0];
    }
    return masters;
  }

  /** One round of polls; call repeatedly. */
  async pollOnce(): Promise<void> {
    this.polls++;
    if ((await this.haOverlap()) !== undefined) {
      const again = await this.haOverlap();
      if (again !== undefined) this.violation(again);
    }
    if ((await this.poolMasters()).length > 1) {
      const again = await this.poolMasters();
      if (again.length > 1) this.violation(`two acting pool masters: ${again.join(', ')}`);
    }
  }

  get poolMaster(): Member | undefined {
    return this.members.find((m) => m.name === this.master && !m.down);
  }

  /** Every acknowledged VM is on the acting master. */
  async checkAcknowledged(acked: readonly string[]): Promise<void> {
    const m = this.poolMaster;
    // Only what was acknowledged before the read was sent: later acks may not be in its answer.
    const expected = [...acked];
    if (m === undefined || expected.length === 0) return;
    const a = await keaCommand(m.proc.url, 'VM.get_all_records', {}, { timeoutMs: 10_000 }).catch(() => undefined);
    if (a?.result !== 0) return;
    const have = new Set(Object.values(a.arguments as Record<string, { name_label: string }>).map((v) => v.name_label));
    const lost = expected.filter((n) => !have.has(n));
    if (lost.length > 0) this.violation(`acting master ${m.name} lacks acknowledged VMs ${lost.slice(0, 10).join(',')}${lost.length > 10 ? ` and ${lost.length - 10} more` : ''}`);
  }

  /** Converged: the pair in load-balancing, one pool master every host follows. */
  async converged(): Promise<string | undefined> {
    for (const m of this.up('ha')) {
      const v = await this.haView(m);
      if (v?.state !== 'load-balancing') return `${m.name} is ${v?.state ?? 'not answering'}`;
    }
    const roles = await Promise.all(this.up('pool').map((m) => this.poolRole(m)));
    const masters = roles.filter((r) => r?.role === 'master');
    if (masters.length !== 1) return `${masters.length} pool masters`;
    if (new Set(roles.map((r) => r?.master)).size !== 1) return 'pool hosts follow different masters';
    return undefined;
  }
}
