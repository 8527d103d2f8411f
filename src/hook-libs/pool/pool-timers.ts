import type { Timer } from '../../core/clock.ts';
import { CommandError } from '../../core/errors.ts';
import { PeerUnreachableError } from '../../core/hooks/hook-library.ts';
import { asDatabase } from './model/database.ts';
import { followRedirect } from './model/local-state.ts';
import { sweep } from './model/liveness.ts';
import type { PoolService } from './pool-service.ts';

/**
 * The pool's periodic duties. On the master: the liveness sweep. On a slave: host.tickle_heartbeat
 * to the master every heartbeat interval, following HOST_IS_SLAVE redirects, and copying the
 * database now and then as a backup for emergency_transition_to_master.
 */
export class PoolTimers {
  private sweepTimer: Timer | undefined;
  private beatTimer: Timer | undefined;
  private lastSyncWall = -Infinity;
  private syncing = false;
  private noMasterReported = false;

  constructor(private readonly svc: PoolService) {}

  becomeMaster(): void {
    this.stopAll();
    this.scheduleSweep();
  }

  becomeSlave(): void {
    this.stopAll();
    this.scheduleBeat(0);
  }

  stopAll(): void {
    this.sweepTimer?.cancel();
    this.beatTimer?.cancel();
    this.sweepTimer = undefined;
    this.beatTimer = undefined;
  }

  private get sweepEveryMs(): number {
    const c = this.svc.cfg;
    return Math.max(10, Math.min(c.heartbeatIntervalMs, Math.floor(c.assumedDeadMs / 10)));
  }

  private scheduleSweep(): void {
    this.sweepTimer = this.svc.handle.clock.setTimer(this.sweepEveryMs, () => {
      void this.sweepOnce().finally(() => {
        if (!this.svc.stopped && this.svc.local.role.kind === 'master' && this.sweepTimer !== undefined) this.scheduleSweep();
      });
    });
  }

  /** One liveness sweep; skipped while this old master is bound by a promise to another host. */
  async sweepOnce(): Promise<void> {
    const svc = this.svc;
    // Under HA the liveset drives liveness (xapi's Monitor stops the heartbeat sweep).
    if (svc.acting() !== 'master' || svc.ha.governs()) return;
    const at = svc.handle.clock.monotonicMs();
    const wallAt = svc.wallMs();
    // Published only once the change is durable and applied, so a subscriber that reads the
    // record on hearing the event sees it not live.
    const died: { ref: string; name: string }[] = [];
    try {
      await svc.transact((db) => {
        const r = sweep(db, svc.liveness, svc.myRef, at, svc.cfg.assumedDeadMs, wallAt);
        svc.liveness = r.table;
        for (const ref of r.died) {
          const name = db.tables.host[ref]?.name_label ?? ref;
          svc.log.warn({ msgId: 'POOL_HOST_NOT_LIVE', host: name, ref }, `host ${name} missed heartbeats for ${svc.cfg.assumedDeadMs} ms: not live`);
          died.push({ ref, name });
        }
        return r.changes;
      });
      for (const d of died) svc.handle.publish('pool-host-live', { host: d.ref, name_label: d.name, live: false });
    } catch (err) {
      svc.log.error({ msgId: 'POOL_SWEEP_FAILED', err }, 'liveness sweep failed');
    }
  }

  private scheduleBeat(delay: number): void {
    this.beatTimer = this.svc.handle.clock.setTimer(delay, () => {
      void this.beatOnce(false).finally(() => {
        if (!this.svc.stopped && this.svc.local.role.kind === 'slave' && this.beatTimer !== undefined) this.scheduleBeat(this.svc.cfg.heartbeatIntervalMs);
      });
    });
  }

  /** Sends one heartbeat to the master this host follows. */
  async beatOnce(shuttingDown: boolean): Promise<void> {
    const svc = this.svc;
    const master = svc.hostByAddress(svc.masterAddress());
    if (!master || svc.local.role.kind !== 'slave') return;
    const stuff: Record<string, string> = { time: (svc.wallMs() / 1000).toFixed(3) };
    if (shuttingDown) stuff['shutting-down'] = 'true';
    // Heartbeats never overlap (the next is scheduled when this one ends), so a busy master may
    // take up to the forward timeout to answer without the heartbeat being lost.
    const timeout = Math.max(svc.cfg.forwardTimeoutMs, svc.cfg.heartbeatIntervalMs);
    try {
      const reply = (await svc.callHost(master, 'host.tickle_heartbeat', { host: svc.myRef, stuff }, timeout)) as Record<string, string>;
      if (!shuttingDown) await this.maybeSync(master, Number(reply['generation'] ?? NaN));
    } catch (err) {
      if (err instanceof CommandError && err.errorName === 'HOST_IS_SLAVE' && err.params[0]) {
        // Recording the new master can fail (store error, shutting down); the heartbeat timer's
        // promise has no other handler, so a throw here would be an unhandled rejection that
        // kills the process (found by the simulator: pool seed 398, a crash mid-write).
        await this.follow(err.params[0]).catch((e: unknown) => {
          svc.log.warn({ msgId: 'POOL_FOLLOW_FAILED', address: err.params[0], err: String(e) }, `could not record ${err.params[0]} as the master`);
        });
      } else if (!(err instanceof PeerUnreachableError) || shuttingDown) {
        svc.log.warn({ msgId: 'POOL_HEARTBEAT_FAILED', master: master.name, err: String(err) }, `heartbeat to ${master.name} failed`);
      }
    }
  }

  /** The host we heartbeat says it is a slave of `address`: follow it (unless promised elsewhere). */
  private async follow(address: string): Promise<void> {
    const svc = this.svc;
    if (!svc.hostByAddress(address)) return;
    if (address === svc.me.address) {
      // Two slaves following each other: nobody is master. Never silent, never "followed".
      if (!this.noMasterReported) {
        this.noMasterReported = true;
        const via = svc.masterAddress();
        svc.log.error(
          { msgId: 'POOL_NO_MASTER', host: svc.me.name, follows: via },
          `pool has no master: this host follows ${via}, which says it follows this host; run pool.emergency_transition_to_master on one host`,
        );
      }
      return;
    }
    this.noMasterReported = false;
    const before = svc.masterAddress();
    await svc.changeLocal((s) => followRedirect(s, address, svc.me.address, svc.wallMs(), svc.cfg.proposalTimeoutMs));
    if (svc.masterAddress() !== before) {
      svc.log.info({ msgId: 'POOL_FOLLOW_MASTER', from: before, to: address }, `master moved from ${before} to ${address}; following`);
      // Still a slave, so no duties change; subscribers (and the master-change metric) hear it as
      // they hear a commit that reached this host.
      svc.announceRole();
    }
  }

  /** Copies the pool database from the master when it changed and the last copy is old enough. */
  private async maybeSync(master: { name: string; url: string }, generation: number): Promise<void> {
    const svc = this.svc;
    if (this.syncing || !Number.isFinite(generation) || generation === svc.db.generation) return;
    if (svc.wallMs() - this.lastSyncWall < svc.cfg.databaseSyncMs) return;
    this.syncing = true;
    try {
      const host = svc.hostByAddress(svc.masterAddress());
      if (!host || host.name !== master.name) return;
      const copy = asDatabase(await svc.callHost(host, 'pool.get_database', {}, svc.cfg.forwardTimeoutMs));
      if (copy && svc.local.role.kind === 'slave') {
        await svc.replaceDatabase(copy);
        this.lastSyncWall = svc.wallMs();
      }
    } catch (err) {
      svc.log.warn({ msgId: 'POOL_DB_SYNC_FAILED', err: String(err) }, 'could not copy the pool database from the master');
    } finally {
      this.syncing = false;
    }
  }

  /** On a clean stop a slave tells the master it is going down (xapi's "shutting-down" tickle). */
  async sendShutdownHeartbeat(): Promise<void> {
    if (this.svc.local.role.kind !== 'slave') return;
    await this.beatOnce(true).catch(() => undefined);
  }
}
