import { CommandError } from '../../core/errors.ts';
import { find, isLive } from './model/database.ts';
import { vmStarted } from './model/operations.ts';
import {
  anyHostFor, bestEffortToTry, declareDead, haltedProtected, orderGroups, REATTEMPT_WINDOW_MS, restartPlan,
} from './model/restarts.ts';
import type { Ref } from './model/records.ts';
import type { PoolPlanner } from './pool-planner.ts';
import type { PoolService } from './pool-service.ts';

export interface RestartReport {
  readonly held: boolean;
  readonly failedHosts: readonly Ref[];
  readonly restarted: readonly { vm: Ref; host: Ref }[];
  readonly failed: readonly Ref[];
  readonly bestEffort: readonly { vm: Ref; host: Ref }[];
}

/**
 * Runs a restart pass on the master when the liveset shrank or grew (spec/xapi-ha.md §5.6): declares
 * dead hosts, resets their VMs, restarts protected VMs per the plan in order groups, then
 * best-effort ones. A restart is the VM.start on the chosen host plus the `ha_vm_restart` callout, so
 * a user library can start the real workload or refuse (the restart then counts as failed).
 */
export class RestartRunner {
  private readonly lastAttemptMs = new Map<Ref, number>();
  private readonly reportedFailed = new Set<Ref>();
  private readonly bestEffortFailures = new Map<Ref, number>();
  private lastLiveSet: Set<Ref> | undefined;
  private running: Promise<RestartReport> | undefined;

  constructor(private readonly svc: PoolService, private readonly planner: PoolPlanner) {}

  /** One pass at a time: a pass asked for while one runs waits for it, then runs on the newer liveset. */
  async pass(liveSet: ReadonlySet<Ref>): Promise<RestartReport> {
    while (this.running) await this.running.catch(() => undefined);
    const run = this.run(new Set(liveSet));
    this.running = run;
    try {
      return await run;
    } finally {
      this.running = undefined;
    }
  }

  private async run(liveSet: Set<Ref>): Promise<RestartReport> {
    const svc = this.svc;
    const none = { failedHosts: [], restarted: [], failed: [], bestEffort: [] };
    if (this.planner.restartsHeld()) return { held: true, ...none };
    const last = this.lastLiveSet ?? liveSet;
    this.lastLiveSet = liveSet;

    const dead = declareDead(svc.db, liveSet);
    for (const f of dead.failed) {
      if (!isLive(svc.db, f.host)) continue;
      svc.log.warn({ msgId: 'HA_HOST_FAILED', host: f.name, vms: f.vms.length }, `Server '${f.name}' has failed`);
      svc.handle.publish('pool-ha-host-failed', { host: f.host, name_label: f.name });
      await svc.handle.runCallouts('ha_host_pre_declare_dead', { host: f.host, name_label: f.name, reason: 'fenced' });
    }
    if (dead.changes.length > 0) await svc.transact(() => dead.changes);
    for (const f of dead.failed) await svc.handle.runCallouts('ha_host_post_declare_dead', { host: f.host, name_label: f.name, reason: 'fenced' });
    if (dead.resetVms.length > 0) await this.planner.recompute('VMs reset to Halted');

    let plan = restartPlan(svc.db, liveSet);
    if (plan.placement.size > 0 || dead.resetVms.length > 0) {
      await svc.handle.runCallouts('ha_pre_vm_restart', { vms: [...plan.placement.keys()], reset: dead.resetVms });
      plan = restartPlan(svc.db, liveSet);
    }
    const toStart = plan.complete ? [...plan.placement.keys()] : haltedProtected(svc.db);
    const restarted: { vm: Ref; host: Ref }[] = [];
    let failed: Ref[] = [];
    for (const group of orderGroups(svc.db, toStart)) {
      const results = await Promise.all(group.map(async (vm) => {
        const host = plan.complete ? plan.placement.get(vm) : anyHostFor(svc.db, liveSet, vm);
        const ok = host !== undefined && this.recentlyTried(vm) === false && (await this.start(vm, host, 'restart'));
        return { vm, host, ok };
      }));
      for (const r of results) {
        if (r.ok && r.host !== undefined) restarted.push({ vm: r.vm, host: r.host });
        else failed.push(r.vm);
      }
    }
    // One final attempt, anywhere, for the ones that failed.
    const retried: Ref[] = [];
    for (const group of orderGroups(svc.db, failed)) {
      const results = await Promise.all(group.map(async (vm) => {
        const host = anyHostFor(svc.db, liveSet, vm);
        return { vm, host, ok: host !== undefined && (await this.start(vm, host, 'final attempt')) };
      }));
      for (const r of results) {
        if (r.ok && r.host !== undefined) restarted.push({ vm: r.vm, host: r.host });
        else retried.push(r.vm);
      }
    }
    failed = retried;
    for (const vm of failed) {
      if (this.reportedFailed.has(vm)) continue;
      this.reportedFailed.add(vm);
      svc.log.error({ msgId: 'HA_PROTECTED_VM_RESTART_FAILED', vm }, `protected VM ${find(svc.db, 'VM', vm)?.name_label ?? vm} could not be restarted`);
      svc.handle.publish('pool-ha-protected-vm-restart-failed', { vm });
    }
    for (const vm of [...this.reportedFailed]) if (!failed.includes(vm)) this.reportedFailed.delete(vm);

    const bestEffort: { vm: Ref; host: Ref }[] = [];
    const candidates = bestEffortToTry(svc.db, {
      allProtectedRestarted: failed.length === 0,
      livesetGrew: [...liveSet].some((h) => !last.has(h)),
      livesetUnchanged: liveSet.size === last.size && [...liveSet].every((h) => last.has(h)),
      newlyReset: dead.resetVms,
      failedBefore: this.bestEffortFailures,
    });
    for (const vm of candidates) {
      const host = anyHostFor(svc.db, liveSet, vm);
      if (host !== undefined && (await this.start(vm, host, 'best-effort'))) {
        bestEffort.push({ vm, host });
        this.bestEffortFailures.delete(vm);
      } else {
        this.bestEffortFailures.set(vm, (this.bestEffortFailures.get(vm) ?? 0) + 1);
      }
    }
    if (restarted.length + bestEffort.length > 0) await this.planner.recompute('VMs restarted');
    return { held: false, failedHosts: dead.failed.map((f) => f.host), restarted, failed, bestEffort };
  }

  private recentlyTried(vm: Ref): boolean {
    const at = this.lastAttemptMs.get(vm);
    return at !== undefined && this.svc.wallMs() - at < REATTEMPT_WINDOW_MS;
  }

  /** VM.start on `host`: the callout may refuse; then the host runs it and the records follow. */
  private async start(vm: Ref, host: Ref, why: string): Promise<boolean> {
    const svc = this.svc;
    this.lastAttemptMs.set(vm, svc.wallMs());
    const rec = find(svc.db, 'VM', vm);
    if (!rec) return false;
    if (rec.power_state !== 'Halted') return true;
    try {
      const status = await svc.handle.runCallouts('ha_vm_restart', { vm, host, name_label: rec.name_label, priority: rec.ha_restart_priority, why });
      if (status !== 'continue') throw new CommandError('OPERATION_NOT_ALLOWED', [`ha_vm_restart callout refused ${vm}`]);
      await svc.forward(host, { op: 'VM.start', vm });
      await svc.transact((db) => vmStarted(db, vm, host, false));
      svc.log.info({ msgId: 'HA_VM_RESTARTED', vm, host, why }, `VM ${rec.name_label} restarted on ${find(svc.db, 'host', host)?.name_label ?? host} (${why})`);
      svc.handle.publish('pool-ha-vm-restarted', { vm, host, why });
      return true;
    } catch (err) {
      svc.log.warn({ msgId: 'HA_VM_RESTART_ATTEMPT_FAILED', vm, host, why, err: err instanceof Error ? err.message : String(err) }, `restart of VM ${rec.name_label} on ${host} failed`);
      return false;
    }
  }
}
