import { isLive, poolEntry } from './model/database.ts';
import type { Heuristic } from './model/binpack.ts';
import { assertChangePreservesPlan, poolStatusUpdate, type PlanChange, type PlanStatus } from './model/planner.ts';
import type { Database, DbChange, Ref } from './model/records.ts';
import type { PoolService } from './pool-service.ts';

/**
 * The planner's shell on the master: which hosts count as live, the last plan it computed (for
 * status), and `update_pool_status` as a transaction whose alerts are logged and published. The
 * decisions are the pure planner's (model/planner.ts).
 */
export class PoolPlanner {
  /** Set by events that make the current plan stale; cleared by the next recomputation. */
  outOfDate = true;
  last: { status: PlanStatus; heuristic: Heuristic; target: number; atMs: number } | undefined;
  /** Wall time until which the master restarts nothing (pool.ha_prevent_restarts_for). */
  restartsHeldUntilMs = 0;

  constructor(private readonly svc: PoolService) {}

  /** Hosts the master believes live: driven by heartbeats without HA and by the liveset with HA. */
  liveSet(db: Database = this.svc.db): Set<Ref> {
    return new Set(Object.keys(db.tables.host).filter((h) => isLive(db, h)));
  }

  /** Admission control for a change about to be made (throws HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN). */
  admit(db: Database, change: PlanChange): void {
    assertChangePreservesPlan(db, this.liveSet(db), change);
  }

  /** Recomputes the plan and commits the pool fields that changed; alerts go to the log and subscribers. */
  async recompute(reason: string): Promise<void> {
    const svc = this.svc;
    if (svc.acting() !== 'master') return;
    this.outOfDate = false;
    let alerts: ReturnType<typeof poolStatusUpdate>['events'] = [];
    await svc.transact((db) => {
      const [poolRef, pool] = poolEntry(db);
      const live = this.liveSet(db);
      const update = poolStatusUpdate(db, live);
      this.last = { ...update.plan, target: pool.ha_host_failures_to_tolerate, atMs: svc.wallMs() };
      alerts = update.events;
      const changes: DbChange[] = Object.keys(update.fields).length > 0 ? [{ op: 'mod', class: 'pool', ref: poolRef, fields: update.fields }] : [];
      return changes;
    });
    for (const a of alerts) {
      const text = a.name === 'HA_POOL_OVERCOMMITTED'
        ? 'the pool is overcommitted: no failover plan exists for the configured host failures to tolerate'
        : `the number of host failures a plan exists for dropped to ${a.value}`;
      svc.log.warn({ msgId: a.name, reason, ...(a.name === 'HA_POOL_DROP_IN_PLAN_EXISTS_FOR' ? { value: a.value } : {}) }, text);
      svc.handle.publish(a.name === 'HA_POOL_OVERCOMMITTED' ? 'pool-ha-overcommitted' : 'pool-ha-plan-dropped', a);
    }
  }

  /** Marks the plan stale and, with HA enabled, recomputes it now (as xapi's monitor does on a change). */
  async invalidate(reason: string): Promise<void> {
    this.outOfDate = true;
    if (poolEntry(this.svc.db)[1].ha_enabled) await this.recompute(reason);
  }

  /** Holds back every restart for `seconds`; under one second releases at once (xapi). */
  preventRestartsFor(seconds: number): void {
    this.restartsHeldUntilMs = seconds < 1 ? 0 : this.svc.wallMs() + seconds * 1000;
    this.svc.log.info({ msgId: 'POOL_HA_RESTARTS_HELD', seconds }, seconds < 1 ? 'HA restarts released' : `HA restarts held back for ${seconds} s`);
  }

  restartsHeld(): boolean {
    return this.svc.wallMs() < this.restartsHeldUntilMs;
  }

  status(): Record<string, unknown> {
    return {
      plan_out_of_date: this.outOfDate,
      ...(this.restartsHeld() ? { restarts_held_until: new Date(this.restartsHeldUntilMs).toISOString() } : {}),
      ...(this.last ? { last_plan: { status: this.last.status, heuristic: this.last.heuristic, failures: this.last.target, at: new Date(this.last.atMs).toISOString() } } : {}),
    };
  }
}
