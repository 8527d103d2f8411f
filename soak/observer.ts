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
  /** The master every live pool host last agreed on. */
  private agreedMaster: string | undefined;

  private readonly witnessed: boolean;

  constructor(private readonly members: readonly Member[], private readonly now: () => number) {
    this.witnessed = members.some((m) => m.cluster === 'witness');
  }

  private up(cluster: 'ha' | 'pool'): Member[] {
    return this.members.filter((m) => m.cluster === cluster && !m.down);
  }

  /** One key per HA scope (the load-balancing split), found once by asking which scope a key is in. */
  private scopeKeys: Map<string, string> | undefined;

  private async keysPerScope(m: Member): Promise<Map<string, string> | undefined> {
    if (this.scopeKeys !== undefined) return this.scopeKeys;
    const keys = new Map<string, string>();
    for (let i = 0; i < 64 && keys.size < 2; i++) {
      const key = i.toString(16).padStart(2, '0');
      const a = await keaCommand(m.proc.url, 'ha-query', { key, 'key-format': 'hex' }, { timeoutMs: 3000 }).catch(() => undefined);
      const scope = (a?.arguments as { scope?: string } | undefined)?.scope;
      if (scope === undefined) return undefined;
      if (!keys.has(scope)) keys.set(scope, key);
    }
    this.scopeKeys = keys;
    return keys;
  }

  /**
   * A server's state and the scopes it serves at this instant: ha-query's `serve` for one key of
   * each scope (what a client is told — it includes a witness step-down, which the state alone does not show).
   */
  private async haView(m: Member): Promise<HaView | undefined> {
    const keys = await this.keysPerScope(m);
    if (keys === undefined) return undefined;
    let state: string | undefined;
    const served: string[] = [];
    for (const [scope, key] of keys) {
      const a = await keaCommand(m.proc.url, 'ha-query', { key, 'key-format': 'hex' }, { timeoutMs: 3000 }).catch(() => undefined);
      const args = a?.arguments as { state?: string; serve?: boolean } | undefined;
      if (args?.state === undefined) return undefined;
      state ??= args.state;
      if (args.serve === true) served.push(scope);
    }
    return state === undefined ? undefined : { state, served };
  }

  private async poolRole(m: Member): Promise<{ role: string; master: string; ha: string; liveset: number } | undefined> {
    const a = await keaCommand(m.proc.url, 'host.local_status', {}, { timeoutMs: 3000 }).catch(() => undefined);
    const s = a?.arguments as { role?: string; master_address?: string; ha?: { state?: string; liveset?: string[] } } | undefined;
    return s?.role === undefined ? undefined : { role: s.role, master: s.master_address ?? '', ha: s.ha?.state ?? 'none', liveset: s.ha?.liveset?.length ?? 0 };
  }

  private violation(what: string): void {
    const logs = this.members.map((m) => tail(m, 15)).join('\n');
    this.violations.push({ atMs: this.now(), what, logs });
  }

  /**
   * Two HA servers serve one scope: outside partner-down without witnesses, ever with them (an
   * isolated server steps down before its partner, backed by a witness, takes its scopes).
   */
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
        if (both.length > 0 && (this.witnessed || (a.v.state !== 'partner-down' && b.v.state !== 'partner-down'))) {
          return `scope ${both.join(',')} served by ${a.m.name} (${a.v.state}) and ${b.m.name} (${b.v.state})${this.witnessed ? ' (the pair has a witness)' : ''}`;
        }
      }
    }
    return undefined;
  }

  /** HA pair failover = the survivor entering partner-down after the driver killed its partner. */
  private noteHaFailover(m: Member, state: string): void {
    if (state !== 'partner-down') return;
    const victim = this.members.find((x) => x.cluster === 'ha' && x !== m && x.killedAt !== undefined);
    if (victim?.killedAt !== undefined) {
      this.failovers.push({ cluster: 'ha', what: `${victim.name} killed -> ${m.name} partner-down`, ms: this.now() - victim.killedAt });
      victim.killedAt = undefined;
    }
  }

  private async poolMasters(): Promise<string[]> {
    const up = this.up('pool');
    const roles = await Promise.all(up.map(async (m) => ({ m, r: await this.poolRole(m) })));
    const masters = roles.filter((x) => x.r?.role === 'master').map((x) => x.m.name);
    if (masters.length === 1 && masters[0] !== this.master) {
      if (this.master !== undefined) this.transitions.push(`${(this.now() / 1000).toFixed(1)}s pool master ${this.master} -> ${masters[0]}`);
      this.master = masters[0];
    }
    // An automatic failover ends when every live host (all up members answer) follows one new master.
    const answered = roles.flatMap((x) => (x.r === undefined ? [] : [x.r]));
    if (masters.length === 1 && answered.length === up.length && new Set(answered.map((r) => r.master)).size === 1) this.notePoolFailover(masters[0] as string);
    return masters;
  }

  /** Pool failover = the master lost (killed, or cut off and fenced) -> a new master every live host follows. */
  private notePoolFailover(master: string): void {
    const before = this.agreedMaster;
    this.agreedMaster = master;
    if (before === undefined || before === master) return;
    const lost = this.members.find((x) => x.name === before);
    if (lost?.lostAt === undefined) return;
    this.failovers.push({ cluster: 'pool', what: `${before} lost -> ${master} master on every live host`, ms: this.now() - lost.lostAt });
    lost.lostAt = undefined;
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

  /** Converged: every member up, the pair in load-balancing, one pool master every host follows, all three online in the HA liveset. */
  async converged(): Promise<string | undefined> {
    const down = this.members.find((m) => m.down);
    if (down) return `${down.name} is down`;
    for (const m of this.up('ha')) {
      const v = await this.haView(m);
      if (v?.state !== 'load-balancing') return `${m.name} is ${v?.state ?? 'not answering'}`;
    }
    const pool = this.up('pool');
    const roles = await Promise.all(pool.map((m) => this.poolRole(m)));
    const masters = roles.filter((r) => r?.role === 'master');
    if (masters.length !== 1) return `${masters.length} pool masters`;
    if (new Set(roles.map((r) => r?.master)).size !== 1) return 'pool hosts follow different masters';
    const notInLiveset = pool.find((_, i) => roles[i]?.ha !== 'online' || roles[i]?.liveset !== pool.length);
    if (notInLiveset) {
      const r = roles[pool.indexOf(notInLiveset)];
      return `${notInLiveset.name} HA is ${r?.ha ?? 'not answering'} with a liveset of ${r?.liveset ?? 0}`;
    }
    return undefined;
  }
}
