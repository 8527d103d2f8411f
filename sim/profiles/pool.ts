import { buildPool } from '../../src/hook-libs/pool/index.ts';
import { hostRefOf } from '../../src/hook-libs/pool/model/operations.ts';
import type { PoolService } from '../../src/hook-libs/pool/pool-service.ts';
import type { Answer } from '../../src/core/commands/answer.ts';
import type { ClusterRun, Profile, SimContext } from '../profile.ts';
import { SimHost, type LibraryRunner } from '../sim-host.ts';

const poolRunner: LibraryRunner<PoolService> = {
  async start(handle) {
    const svc = buildPool(handle);
    await svc.start();
    return svc;
  },
  kill(svc) {
    svc.stopped = true;
    svc.timers.stopAll();
  },
};

export interface PoolTimers {
  readonly heartbeatMs: number;
  readonly assumedDeadMs: number;
  readonly forwardTimeoutMs: number;
  readonly proposalTimeoutMs: number;
  readonly databaseSyncMs: number;
}

/** The made-up address of a simulated host (the network is simulated; nothing listens there). */
export const addressOf = (name: string): string => `127.0.0.1:${9000 + Number(name.replace(/\D/g, ''))}`;

/** Pool parameters for `size` hosts on made-up loopback URLs. */
export function poolParameters(size: number, t: PoolTimers, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'sim', master: 'host1',
    hosts: Array.from({ length: size }, (_, i) => ({ name: `host${i + 1}`, url: `http://${addressOf(`host${i + 1}`)}/` })),
    'heartbeat-interval': t.heartbeatMs,
    'assumed-dead-interval': t.assumedDeadMs,
    'forward-timeout': t.forwardTimeoutMs,
    'proposal-timeout': t.proposalTimeoutMs,
    'database-sync-interval': t.databaseSyncMs,
    ...extra,
  };
}

/**
 * What a pool's clients do: create VMs on the host they believe is master (following
 * HOST_IS_SLAVE redirects like a XenAPI client) and now and then ask for a new master. Every VM
 * the pool acknowledged is remembered by name; none may ever be missing from an acting master.
 */
export class PoolClient {
  believedMaster = 'host1';
  readonly acknowledged: string[] = [];
  private made = 0;

  constructor(private readonly ctx: SimContext, private readonly hosts: readonly SimHost<PoolService>[]) {}

  private host(name: string): SimHost<PoolService> {
    return this.hosts.find((h) => h.name === name) as SimHost<PoolService>;
  }

  /** Sends to the believed master; a redirect is followed once, as the xen-api client does. */
  private async send(command: string, args: Record<string, unknown>): Promise<Answer | undefined> {
    for (let hop = 0; hop < 2; hop++) {
      const a = await this.host(this.believedMaster).request(command, args);
      if (a?.error !== 'HOST_IS_SLAVE') return a;
      const address = String(a.params?.[0] ?? '');
      const next = this.hosts.find((h) => addressOf(h.name) === address);
      if (next === undefined) return a;
      this.believedMaster = next.name;
    }
    return undefined;
  }

  createVm(): void {
    const name = `vm${++this.made}`;
    this.ctx.trace.note(`client VM.create ${name} -> ${this.believedMaster}`);
    void this.send('VM.create', { args: { name_label: name, memory_static_max: 1 } }).then((a) => {
      if (a?.result === 0) this.acknowledged.push(name);
      this.ctx.trace.note(`client VM.create ${name}: ${a === undefined ? 'no answer' : a.result === 0 ? 'acknowledged' : (a.error ?? a.text)}`);
    });
  }

  designate(target: string): void {
    this.ctx.trace.note(`client pool.designate_new_master ${target} -> ${this.believedMaster}`);
    void this.send('pool.designate_new_master', { host: hostRefOf('sim', target) }).then((a) => {
      this.ctx.trace.note(`client designate ${target}: ${a === undefined ? 'no answer' : a.result === 0 ? 'done' : (a.error ?? a.text)}`);
    });
  }
}

export const vmNames = (svc: PoolService): Set<string> => new Set(Object.values(svc.db.tables.VM ?? {}).map((v) => v.name_label));

/** Safety of any pool: at most one acting master, and an acting master holds every acknowledged VM. */
export function poolViolations(hosts: readonly SimHost<PoolService>[], client: PoolClient): string[] {
  const out: string[] = [];
  const masters = hosts.filter((h) => h.up && h.service?.acting() === 'master');
  if (masters.length > 1) out.push(`two acting masters: ${masters.map((h) => h.name).join(', ')}`);
  for (const m of masters) {
    const have = vmNames(m.service as PoolService);
    const lost = client.acknowledged.filter((n) => !have.has(n));
    if (lost.length > 0) out.push(`acting master ${m.name} lacks acknowledged ${lost.join(',')}`);
  }
  return out;
}

/** Converged: every host up, one acting master that every host follows, no promise or change pending, every host live. */
export function poolUnconverged(hosts: readonly SimHost<PoolService>[]): string | undefined {
  const down = hosts.find((h) => !h.up);
  if (down) return `${down.name} is down`;
  const svcs = hosts.map((h) => h.service as PoolService);
  const masters = svcs.filter((s) => s.acting() === 'master');
  if (masters.length !== 1) return `${masters.length} acting masters`;
  const master = masters[0] as PoolService;
  for (const s of svcs) {
    if (s.masterAddress() !== master.me.address) return `${s.me.name} follows ${s.masterAddress()}, not ${master.me.address}`;
    if (s.proposal() !== undefined) return `${s.me.name} holds a promise to ${s.proposal()?.address}`;
    if (s.local.coordination !== undefined) return `${s.me.name} has a master change in progress`;
  }
  const metrics = master.db.tables.host_metrics ?? {};
  for (const [, host] of Object.entries(master.db.tables.host ?? {})) {
    if (metrics[host.metrics]?.live !== true) return `master sees ${host.name_label} not live`;
  }
  return undefined;
}

export function poolStatus(h: SimHost<PoolService>): string {
  const s = h.service;
  if (!h.up || s === undefined) return `${h.name} down`;
  const p = s.proposal();
  const c = s.local.coordination;
  return `${h.name} ${s.acting()} follows ${s.masterAddress()}${p ? ` promised ${p.address}` : ''}${c ? ` coordinating(${c.decided ? 'decided' : 'undecided'})` : ''} vms ${vmNames(s).size}`;
}

/**
 * A pool of three or four hosts without HA: liveness (slaves' heartbeats, the master's sweep) and
 * master change by two-phase commit, under crashes, partitions and a lossy network.
 */
export const poolProfile: Profile = {
  name: 'pool',
  build(ctx: SimContext): ClusterRun {
    const p = ctx.prng;
    const size = p.int(3, 4);
    const t: PoolTimers = {
      heartbeatMs: 1000, assumedDeadMs: p.pick([3000, 5000]), forwardTimeoutMs: 1000, proposalTimeoutMs: p.pick([3000, 6000]), databaseSyncMs: 2000,
    };
    const parameters = poolParameters(size, t);
    const hosts = Array.from({ length: size }, (_, i) => new SimHost<PoolService>(`host${i + 1}`, ctx.world, ctx.net, ctx.trace, poolRunner, parameters));
    const client = new PoolClient(ctx, hosts);
    const faultPhaseMs = 40_000;
    return {
      variant: `${size} hosts, assumed-dead ${t.assumedDeadMs} ms, proposal-timeout ${t.proposalTimeoutMs} ms`,
      hosts: hosts as SimHost<unknown>[],
      faultPhaseMs,
      // A decided change whose old master never confirms is void after the proposal timeout; slaves
      // follow redirects within a heartbeat or two; a restarted slave is live at its first beat.
      convergenceBoundMs: t.proposalTimeoutMs + t.assumedDeadMs + 10 * t.heartbeatMs + 4 * t.forwardTimeoutMs,
      status: (h) => poolStatus(h as SimHost<PoolService>),
      startWorkload() {
        const ops = p.int(4, 16);
        for (let i = 0; i < ops; i++) {
          const at = p.int(500, faultPhaseMs);
          if (p.chance(0.75)) ctx.world.schedule(at, 'client', () => client.createVm());
          else {
            const target = p.pick(hosts).name;
            ctx.world.schedule(at, 'client', () => client.designate(target));
          }
        }
      },
      violations: () => poolViolations(hosts, client),
      unconverged: () => poolUnconverged(hosts),
    };
  },
};
