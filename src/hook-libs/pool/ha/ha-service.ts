import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { CommandError } from '../../../core/errors.ts';
import { PeerUnreachableError } from '../../../core/hooks/hook-library.ts';
import type { Store } from '../../../store/store.ts';
import { answerError } from '../commands/guard.ts';
import { applyRecord, asDatabase, entries, find, get, isDbRedoRecord, isLive, poolEntry } from '../model/database.ts';
import { followLockHolder, setHaLocal, type HaLocal } from '../model/local-state.ts';
import { refFor, stableUuid } from '../model/operations.ts';
import type { DbChange, Ref } from '../model/records.ts';
import type { PoolHost } from '../pool-config.ts';
import type { PoolService } from '../pool-service.ts';
import { clusterStack, clusterStackNames, registerClusterStack, type ClusterStack, type LivesetReport, type StackMember } from './cluster-stack.ts';
import { assertNoPoolOperation, checkEnable, type EnableArgs, type PoolOperation, type StackInfo } from './enable-checks.ts';
import { fenceLoopVerdict, recordFence } from './fence-guard.ts';
import { deriveTimeouts, describeTimeouts, type HaTimeouts } from './timeouts.ts';
import { monitorGate } from './monitor-gate.ts';
import { xhadFactory } from './xhad/xhad-stack.ts';
import { etcdFactory } from '../etcd/etcd-stack.ts';

registerClusterStack(xhadFactory);
registerClusterStack(etcdFactory);

/** The exit code of a host that fenced itself (documented in docs/pool.md). */
export const FENCE_EXIT_CODE = 75;
/** xapi's ha_monitor_interval: the master's monitor also runs this often without a liveset change. */
export const MONITOR_INTERVAL_MS = 20_000;

type Phase = 'preconfigure' | 'statefile' | 'join' | 'master-lock' | 'redo-log' | 'arm';

/**
 * Pool HA on one host (spec/xapi-ha.md §1, §4, §6): pool.enable_ha / disable_ha on the master, the
 * pool-internal host.* calls on every host, the cluster stack's liveset driving who is master
 * (the master lock, not a two-phase commit), the HA redo log on the stack's shared storage, the
 * master's host monitor (liveness from the liveset, then the planner and the restart pass), and
 * self-fencing. The decisions are pure (timeouts.ts, enable-checks.ts, fence-guard.ts and the
 * stack's machine); this class performs them.
 */
export class PoolHa {
  stack: ClusterStack | undefined;
  report: LivesetReport | undefined;
  /** The blocking pool operation this master runs (enable / disable). */
  operation: PoolOperation | undefined;
  /** The HA redo log while this host is the armed master: every write is appended here first. */
  redo: Store | undefined;
  fenced: { reason: string } | undefined;
  fenceLoop: { reason: string } | undefined;
  private readonly awaitingRejoin = new Set<Ref>();
  private transitionAt: number | undefined;
  /** When the last pool-wide statefile (etcd majority) outage ended: restarts wait T after it. */
  private outageEndedAt: number | undefined;
  private monitoring: Promise<void> | undefined;
  private monitorAgain = false;
  private lastLiveset: string | undefined;
  private lastPassAt = -Infinity;
  private monitorTimer: (() => void) | undefined;
  private following: Promise<void> = Promise.resolve();
  private bootRetry: (() => void) | undefined;

  constructor(private readonly svc: PoolService) {}

  private get log() {
    return this.svc.log;
  }

  get local(): HaLocal | undefined {
    return this.svc.local.ha;
  }

  /** HA decides who is master here: armed locally and not held back by a fence loop. */
  governs(): boolean {
    // A disable in progress hands the decisions back to the pool: its stack is being stopped.
    return this.local?.armed === true && this.fenceLoop === undefined && this.operation !== 'ha_disable';
  }

  timeouts(): HaTimeouts | undefined {
    return this.local ? deriveTimeouts(this.local.timeoutMs) : undefined;
  }

  members(): StackMember[] {
    const pool = this.svc.cfg.name;
    return this.svc.cfg.hosts
      .map((h) => ({ uuid: stableUuid(`host/${pool}/${h.name}`), name: h.name, url: h.url, address: h.address }))
      .sort((a, b) => (a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : 0));
  }

  private memberByUuid(uuid: string): StackMember | undefined {
    return this.members().find((m) => m.uuid === uuid);
  }

  private myUuid(): string {
    return stableUuid(`host/${this.svc.cfg.name}/${this.svc.me.name}`);
  }

  /** The stack says this host holds the master lock now (within its lease). */
  iAmMaster(): boolean {
    return this.stack?.query().iAmMaster === true;
  }

  /** Address of the lock holder, if the stack knows one. */
  holderAddress(): string | undefined {
    const m = this.stack?.query().master;
    return m ? this.memberByUuid(m)?.address : undefined;
  }

  assertNotFenced(): void {
    if (this.fenced) throw new CommandError('HA_SHOULD_BE_FENCED', [this.svc.myRef], `this host fenced itself (${this.fenced.reason}); it accepts no pool writes`);
  }

  /** Transactions on an armed host commit only while it holds the master lock. */
  assertCanCommit(): void {
    this.assertNotFenced();
    if (this.governs() && !this.iAmMaster()) throw new CommandError('HOST_IS_SLAVE', [this.holderAddress() ?? this.svc.masterAddress()]);
  }

  // ---- start and stop -------------------------------------------------------------------------

  /** At start: an armed host rejoins the liveset (boot join), unless it is in a fence loop. */
  async start(): Promise<void> {
    const ha = this.local;
    if (!ha) return;
    const last = ha.fences[ha.fences.length - 1];
    if (last !== undefined && ha.armed) {
      this.log.warn({ msgId: 'HA_HOST_WAS_FENCED', at: new Date(last).toISOString() }, `this host fenced itself at ${new Date(last).toISOString()} and has restarted`);
      this.svc.handle.publish('pool-ha-host-was-fenced', { host: this.svc.myRef, at: new Date(last).toISOString() });
    }
    if (!ha.armed) return;
    const loop = fenceLoopVerdict(ha.fences, this.svc.wallMs(), this.svc.cfg.haFenceLoop);
    if (loop.loop) {
      this.fenceLoop = { reason: loop.reason };
      this.log.error({ msgId: 'POOL_HA_FENCE_LOOP', fences: loop.recent }, loop.reason);
      this.svc.handle.publish('pool-ha-fence-loop', { host: this.svc.myRef, reason: loop.reason });
      return;
    }
    this.bootJoin();
  }

  private bootJoin(): void {
    const ha = this.local;
    if (!ha?.armed || this.svc.stopped) return;
    let stack: ClusterStack;
    try {
      stack = this.stack ?? this.createStack(ha);
    } catch (err) {
      this.log.error({ msgId: 'POOL_HA_STACK_FAILED', err: String(err) }, `cannot start the ${ha.stack} cluster stack: ${String(err)}`);
      return;
    }
    this.log.info({ msgId: 'POOL_HA_REJOIN', stack: ha.stack }, 'HA is armed on this host: rejoining the liveset');
    stack.join({ mode: 'boot', contend: this.svc.local.role.kind === 'master' }).then(() => {
      if (!ha.disableFailoverDecisions) stack.armFencing();
    }, (err: unknown) => {
      if (err instanceof CommandError && err.errorName === 'HA_NOT_ENABLED') return;
      const t = deriveTimeouts(ha.timeoutMs);
      this.log.error({ msgId: 'POOL_HA_REJOIN_FAILED', err: String(err) }, `could not rejoin the liveset (${String(err)}); retrying in ${t.baseMs} ms`);
      this.bootRetry = this.svc.later(t.baseMs, () => this.bootJoin());
    });
  }

  /** Clean stop of an armed host (spec §1.8): leave the liveset as excluded, not as a failure. */
  async shutdown(): Promise<void> {
    this.bootRetry?.();
    this.stopMonitor();
    const stack = this.stack;
    if (stack) {
      stack.disarmFencing();
      await stack.leave().catch(() => undefined);
      await stack.stop();
    }
    await this.closeRedo();
  }

  private stopMonitor(): void {
    this.monitorTimer?.();
    this.monitorTimer = undefined;
  }

  private async closeRedo(): Promise<void> {
    const r = this.redo;
    this.redo = undefined;
    await r?.close().catch(() => undefined);
  }

  /** The pool parameters' settings for one stack, with file paths resolved against the configuration's directory. */
  private stackParameters(name: string): Record<string, unknown> {
    const raw = this.svc.cfg.clusterStacks[name] ?? {};
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(raw)) out[k] = typeof v === 'string' && (k.endsWith('-file') || k === 'trust-anchor') ? resolve(this.svc.handle.configDir, v) : v;
    return out;
  }

  private createStack(ha: HaLocal): ClusterStack {
    const factory = clusterStack(ha.stack);
    if (!factory) throw new CommandError('UNKNOWN_CLUSTER_STACK', [ha.stack]);
    const me = this.members().find((m) => m.uuid === this.myUuid()) as StackMember;
    const stack = factory.create({
      poolUuid: stableUuid(`pool/${this.svc.cfg.name}`),
      generation: ha.generation,
      me,
      members: this.members(),
      timeouts: deriveTimeouts(ha.timeoutMs),
      deviceConfig: ha.deviceConfig,
      parameters: this.stackParameters(ha.stack),
      clock: this.svc.handle.clock,
      logger: this.svc.log,
      ...(this.svc.handle.faults ? { faults: this.svc.handle.faults } : {}),
      callPeer: (peer, command, args, timeoutMs) => this.svc.handle.callPeer(peer, command, args, timeoutMs),
      peerOf: (m) => this.svc.peerOf(this.svc.cfg.hosts.find((h) => h.name === m.name) as PoolHost),
    });
    if (ha.disableFailoverDecisions) stack.disableFailoverDecisions();
    stack.watch({
      changed: (r) => this.onStackChanged(r),
      fence: (req) => void this.fence(req.reason),
      invalidated: () => void this.onInvalidated(),
    });
    this.stack = stack;
    return stack;
  }

  // ---- following the lock ----------------------------------------------------------------------

  private onStackChanged(r: LivesetReport): void {
    const before = this.report;
    this.report = r;
    if (r.master && r.master !== this.myUuid()) this.lastOtherHolder = r.master;
    if (before?.statefileLost === true && !r.statefileLost) this.outageEndedAt = this.svc.handle.clock.monotonicMs();
    if (before?.statefileLost !== r.statefileLost && r.statefileLost) {
      this.svc.handle.publish('pool-ha-statefile-lost', { host: this.svc.myRef });
    }
    this.following = this.following.then(() => this.follow()).catch((err: unknown) => {
      this.log.error({ msgId: 'POOL_HA_FOLLOW_FAILED', err: String(err) }, `could not follow the master lock: ${String(err)}`);
    });
  }

  /** Makes the pool role agree with the master lock. */
  private async follow(): Promise<void> {
    const svc = this.svc;
    const stack = this.stack;
    if (!stack || svc.stopped || this.fenced || !this.governs()) return;
    const r = stack.query();
    const role = svc.local.role;
    stack.setContend(role.kind === 'master');
    if (r.iAmMaster && role.kind !== 'master') {
      await this.becomeMaster();
    } else if (r.master && r.master !== this.myUuid()) {
      const address = this.memberByUuid(r.master)?.address;
      if (address && (role.kind === 'master' || role.master !== address)) {
        const wasMaster = role.kind === 'master';
        await this.closeRedo();
        await svc.changeLocal((s) => followLockHolder(s, address, svc.me.address));
        svc.log.info({ msgId: 'POOL_HA_FOLLOW', master: address, wasMaster }, `the master lock is held by ${address}; following it`);
        await svc.onRoleChanged();
      }
    }
    if (r.iAmMaster && svc.local.role.kind === 'master') this.scheduleMonitor();
    // The floating address follows the lock at once, not at its next check.
    void svc.management?.sync();
  }

  /** This host won the master lock: load the pool database from the HA redo log and take over. */
  private async becomeMaster(): Promise<void> {
    const svc = this.svc;
    const stack = this.stack as ClusterStack;
    const from = svc.masterAddress();
    const redo = await stack.openRedoLog();
    let db = asDatabase(redo.snapshot);
    if (db) for (const rec of redo.records) if (isDbRedoRecord(rec)) db = applyRecord(db, rec);
    if (db && db.generation >= svc.db.generation) await svc.replaceDatabase(db);
    this.redo = redo;
    await svc.changeLocal((s) => followLockHolder(s, svc.me.address, svc.me.address));
    svc.log.warn({ msgId: 'POOL_MASTER_TRANSITION', host: svc.me.name, from, generation: svc.db.generation },
      `${svc.me.name} holds the HA master lock and is the pool master now (database at generation ${svc.db.generation} from the HA redo log)`);
    await svc.onRoleChanged();
    // spec §1.7: every other host is disabled until it rejoins this master (its first heartbeat).
    this.transitionAt = svc.handle.clock.monotonicMs();
    await svc.transact((d) => {
      const changes: DbChange[] = [];
      for (const [ref, h] of entries(d, 'host')) {
        if (ref === svc.myRef || !h.enabled) continue;
        this.awaitingRejoin.add(ref);
        changes.push({ op: 'mod', class: 'host', ref, fields: { enabled: false } });
      }
      return changes;
    });
    svc.handle.publish('pool-master-transition', { host: svc.myRef, name_label: svc.me.name, address: svc.me.address, from });
    this.lastLiveset = undefined;
    this.scheduleMonitor();
  }

  /** A heartbeat reached this master: a host disabled by the transition is enabled again. */
  async rejoined(host: Ref): Promise<void> {
    if (!this.awaitingRejoin.delete(host)) return;
    await this.svc.transact((db) => (find(db, 'host', host) && !get(db, 'host', host).enabled ? [{ op: 'mod', class: 'host', ref: host, fields: { enabled: true } }] : []));
    this.scheduleMonitor();
  }

  // ---- the host monitor (master) ---------------------------------------------------------------

  private scheduleMonitor(): void {
    if (this.monitoring) {
      this.monitorAgain = true;
      return;
    }
    this.monitoring = (async () => {
      do {
        this.monitorAgain = false;
        await this.monitorOnce().catch((err: unknown) => this.log.error({ msgId: 'POOL_HA_MONITOR_FAILED', err: String(err) }, `HA monitor step failed: ${String(err)}`));
      } while (this.monitorAgain && !this.svc.stopped);
      this.monitoring = undefined;
    })();
  }

  /**
   * spec §4.2 master branch: live flags follow the liveset, hosts that left are declared dead and
   * their protected VMs restarted (RestartRunner), the plan recomputed. Skipped while restarts are
   * held; after a master change, restarts wait until every live host has rejoined (or T + 60 s).
   */
  private async monitorOnce(): Promise<void> {
    const svc = this.svc;
    const stack = this.stack;
    if (!stack || svc.stopped || !this.iAmMaster() || svc.local.role.kind !== 'master') return;
    if (!poolEntry(svc.db)[1].ha_enabled) return;
    this.monitorTimer?.();
    this.monitorTimer = svc.later(MONITOR_INTERVAL_MS, () => this.scheduleMonitor());
    if (svc.planner.restartsHeld()) return;
    const r = stack.query();
    const live = new Set(r.liveset.map((u) => refFor(u)));
    const key = [...live].sort().join();
    const waiting = [...this.awaitingRejoin].filter((h) => live.has(h));
    const t = this.timeouts() as HaTimeouts;
    const gate = monitorGate({
      now: svc.handle.clock.monotonicMs(), transitionAt: this.transitionAt, waitingForRejoin: waiting.length,
      outageEndedAt: this.outageEndedAt, enableJoinMs: t.enableJoinMs, heartbeatTimeoutMs: t.heartbeatTimeoutMs,
    });
    if (gate.kind === 'wait') {
      // Check again soon: rejoins arrive with heartbeats, new leases within a keepalive.
      svc.later(t.tickMs * 2, () => this.scheduleMonitor());
    } else {
      // On a liveset change, and every monitor interval (protected VMs are level-sensitive: one
      // found Halted is started again; the runner itself skips a VM tried less than 120 s ago).
      const now = svc.handle.clock.monotonicMs();
      if (key !== this.lastLiveset || now - this.lastPassAt >= MONITOR_INTERVAL_MS) {
        this.lastLiveset = key;
        this.lastPassAt = now;
        await svc.restarts.pass(live);
      }
    }

    // Hosts in the liveset are live (the restart pass marked the others not live).
    const shuttingDown = new Set([...svc.liveness].filter(([, timer]) => timer.shuttingDown).map(([ref]) => ref));
    await svc.transact((db) => {
      const changes: DbChange[] = [];
      for (const [ref, h] of entries(db, 'host')) {
        const m = find(db, 'host_metrics', h.metrics);
        if (live.has(ref) && m && !m.live && !shuttingDown.has(ref)) changes.push({ op: 'mod', class: 'host_metrics', ref: h.metrics, fields: { live: true, last_updated: new Date(svc.wallMs()).toISOString() } });
      }
      return changes;
    });
    await svc.planner.recompute('liveset changed');
  }

  // ---- fencing ----------------------------------------------------------------------------------

  /** Self-fence (spec §4.5): stop acting at once, log POOL_HA_FENCED, record it, run the fence action. */
  async fence(reason: string): Promise<void> {
    const svc = this.svc;
    if (this.fenced) return;
    this.fenced = { reason };
    const redo = this.redo;
    this.redo = undefined;
    svc.log.fatal({ msgId: 'POOL_HA_FENCED', host: svc.me.name, reason, exitCode: FENCE_EXIT_CODE }, `HA fencing this host: ${reason}`);
    svc.handle.publish('pool-ha-fenced', { host: svc.myRef, reason });
    const ha = this.local;
    if (ha) {
      const fences = recordFence(ha.fences, svc.wallMs(), svc.cfg.haFenceLoop);
      await Promise.race([svc.changeLocal((s) => setHaLocal(s, { ...ha, fences })).catch(() => undefined), new Promise((r) => svc.later(1000, () => r(undefined), () => r(undefined)))]);
    }
    void redo?.close().catch(() => undefined);
    const cmd = svc.cfg.haFenceCommand;
    if (cmd && cmd.length > 0) {
      await new Promise<void>((done) => {
        const child = spawn(cmd[0] as string, cmd.slice(1), { stdio: 'ignore', env: { ...process.env, LIVESET_FENCE_REASON: reason } });
        const timer = setTimeout(() => done(), 10_000);
        child.once('exit', () => (clearTimeout(timer), done()));
        child.once('error', (err) => {
          svc.log.error({ msgId: 'POOL_HA_FENCE_COMMAND_FAILED', err: String(err) }, `fence command failed: ${String(err)}`);
          clearTimeout(timer);
          done();
        });
      });
    }
    if (svc.handle.exitProcess) svc.handle.exitProcess(FENCE_EXIT_CODE);
  }

  /** The stack found the statefile poisoned: HA was disabled (perhaps while this host was away). */
  private async onInvalidated(): Promise<void> {
    this.log.warn({ msgId: 'POOL_HA_DISARMED', reason: 'HA was disabled on the pool' }, 'HA was disabled on the pool; disarming on this host');
    // A host that still calls itself master but does not hold the lock (an old master that was
    // waiting for it after a restart) must not come out of HA as a second master: it follows the
    // host the stack names (the one that disabled HA), or the last other holder it saw.
    const svc = this.svc;
    const named = this.stack?.query().master ?? undefined;
    const holder = named !== undefined && named !== null && named !== this.myUuid() ? named : this.lastOtherHolder;
    if (svc.local.role.kind === 'master' && !this.iAmMaster() && holder !== undefined) {
      const address = this.memberByUuid(holder)?.address;
      if (address !== undefined) {
        await svc.changeLocal((s) => followLockHolder(s, address, svc.me.address));
        svc.log.info({ msgId: 'POOL_HA_FOLLOW', master: address, wasMaster: true }, `HA was disabled while this host waited for the master lock; following ${address}`);
      }
    }
    await this.releaseLocal();
  }

  /** The last host other than this one seen holding the master lock. */
  private lastOtherHolder: string | undefined;

  // ---- enable -----------------------------------------------------------------------------------

  stackInfos(): Map<string, StackInfo> {
    const root = this.stackRoot();
    const out = new Map<string, StackInfo>();
    for (const name of clusterStackNames()) {
      const f = clusterStack(name);
      out.set(name, { statefileSrTypes: f?.statefileSrTypes ?? [], installed: f !== undefined && (root === undefined || existsSync(join(root, name))) });
    }
    return out;
  }

  private stackRoot(): string | undefined {
    const r = this.svc.cfg.clusterStackRoot;
    if (r === undefined) return undefined;
    return isAbsolute(r) ? r : resolve(this.svc.handle.configDir, r);
  }

  operationInProgress(): PoolOperation | undefined {
    if (this.operation) return this.operation;
    if (this.svc.designating || this.svc.coordinating) return 'designate_new_master';
    return undefined;
  }

  /** pool.enable_ha on the master: the checks, then the phases; a failed phase is undone everywhere. */
  async enable(args: EnableArgs): Promise<void> {
    const svc = this.svc;
    const plan = checkEnable(svc.db, svc.myRef, args, { inProgress: this.operationInProgress(), stacks: this.stackInfos(), testing: svc.handle.faults !== undefined });
    this.operation = 'ha_enable';
    const generation = randomUUID();
    const hosts = entries(svc.db, 'host');
    let phase: Phase = 'preconfigure';
    let failedHost: Ref = svc.myRef;
    try {
      // Phase: every host records its HA settings (its own PBD's device_config) and checks the stack.
      for (const [ref, h] of hosts) {
        failedHost = ref;
        const pbd = get(svc.db, 'SR', plan.sr).PBDs.map((p) => find(svc.db, 'PBD', p)).find((p) => p?.host === ref);
        // Checking the medium (an etcd connection's first round trip, a statefile write) is bounded by
        // T, the time the stack itself allows a medium operation, not by the shorter forward-timeout.
        await this.onHost(h.address, 'host.preconfigure_ha', { stack: plan.stack, generation, timeout_ms: plan.timeoutMs, device_config: pbd?.device_config ?? {} },
          Math.max(svc.cfg.forwardTimeoutMs, plan.timeoutMs));
      }
      phase = 'statefile';
      failedHost = svc.myRef;
      await (this.stack as ClusterStack).initialise();
      const [poolRef] = poolEntry(svc.db);
      await svc.transact(() => [{
        op: 'mod', class: 'pool', ref: poolRef,
        fields: { ha_statefiles: [plan.sr], ha_configuration: args.configuration, ha_cluster_stack: plan.stack, ha_plan_exists_for: 0 },
      }]);
      phase = 'join';
      const t = deriveTimeouts(plan.timeoutMs);
      const results = await Promise.allSettled(hosts.map(([, h]) => this.onHost(h.address, 'host.ha_join_liveset', {}, t.enableJoinMs + t.baseMs)));
      const bad = results.findIndex((r) => r.status === 'rejected');
      if (bad >= 0) {
        failedHost = (hosts[bad] as [Ref, unknown])[0];
        throw (results[bad] as PromiseRejectedResult).reason;
      }
      phase = 'master-lock';
      failedHost = svc.myRef;
      await this.waitFor(() => this.iAmMaster(), t.enableJoinMs, () => new CommandError('HA_FAILED_TO_FORM_LIVESET', [], 'the master did not get the master lock'));
      await (this.stack as ClusterStack).activate();
      phase = 'redo-log';
      this.redo = await (this.stack as ClusterStack).openRedoLog();
      await this.redo.writeSnapshot(svc.db);
      phase = 'arm';
      await svc.transact((db) => [{ op: 'mod', class: 'pool', ref: poolEntry(db)[0], fields: { ha_enabled: true } }]);
      this.lastLiveset = undefined;
      svc.log.info({ msgId: 'POOL_HA_ENABLED', stack: plan.stack, timeouts: describeTimeouts(t) }, `HA enabled on the ${plan.stack} stack with T = ${t.baseMs / 1000} s`);
      svc.handle.publish('pool-ha-enabled', { stack: plan.stack, timeout: t.baseMs / 1000 });
      await svc.planner.recompute('HA enabled');
      this.scheduleMonitor();
      // Answer only once the floating address is served again (arming hands it back until the lock is won).
      await svc.management?.sync();
    } catch (err) {
      const name = svc.db.tables.host[failedHost]?.name_label ?? failedHost;
      const e = err instanceof CommandError ? err : err instanceof PeerUnreachableError ? new CommandError('CANNOT_CONTACT_HOST', [failedHost]) : new CommandError('INTERNAL_ERROR', [String(err)]);
      svc.log.error({ msgId: 'POOL_HA_ENABLE_FAILED', host: name, phase, error: e.errorName, params: e.params }, `pool.enable_ha failed on ${name} in phase ${phase}: ${e.message}; undoing on every host`);
      await this.undoEnable();
      throw new CommandError(e.errorName, [...e.params, failedHost, phase], `pool.enable_ha failed on host ${name} (${failedHost}) in phase ${phase}: ${e.message}. HA was disabled again on every host.`);
    } finally {
      this.operation = undefined;
    }
  }

  private async waitFor(cond: () => boolean, ms: number, err: () => CommandError): Promise<void> {
    const deadline = this.svc.handle.clock.monotonicMs() + ms;
    while (!cond()) {
      if (this.svc.stopped || this.svc.handle.clock.monotonicMs() > deadline) throw err();
      await new Promise<void>((r) => this.svc.later(50, r, r));
    }
  }

  /** Undo of a failed enable: disarm, stop and release on every host, reset the pool fields. */
  private async undoEnable(): Promise<void> {
    const svc = this.svc;
    await this.closeRedo();
    await this.everyHost('host.ha_disarm_fencing');
    await this.everyHost('host.ha_stop_daemon');
    await this.everyHost('host.ha_release_resources');
    await svc.transact((db) => {
      const [ref, pool] = poolEntry(db);
      return pool.ha_enabled || pool.ha_statefiles.length > 0 || pool.ha_cluster_stack !== ''
        ? [{ op: 'mod', class: 'pool', ref, fields: { ha_enabled: false, ha_statefiles: [], ha_cluster_stack: '', ha_plan_exists_for: 0 } }] : [];
    }).catch(() => undefined);
  }

  /** Calls a pool-internal host.* on the host with `address` (locally for this host). */
  private async onHost(address: string, command: string, args: Record<string, unknown>, timeoutMs = this.svc.cfg.forwardTimeoutMs): Promise<unknown> {
    const svc = this.svc;
    if (address === svc.me.address) {
      const answer = await svc.handle.dispatch(command, args);
      const e = answerError(answer);
      if (e) throw e;
      return answer.arguments;
    }
    return svc.callHost(svc.hostByAddress(address) as PoolHost, command, args, timeoutMs);
  }

  /** The call on every host in parallel; failures are logged and returned (by host ref). */
  private async everyHost(command: string, onlyLive = false, timeoutMs?: number): Promise<Map<Ref, unknown>> {
    const failures = new Map<Ref, unknown>();
    const hosts = entries(this.svc.db, 'host').filter(([ref]) => !onlyLive || ref === this.svc.myRef || isLive(this.svc.db, ref));
    await Promise.all(hosts.map(async ([ref, h]) => {
      try {
        await this.onHost(h.address, command, {}, timeoutMs);
      } catch (err) {
        failures.set(ref, err);
        this.log.warn({ msgId: 'POOL_HA_HOST_CALL_FAILED', host: h.name_label, command, err: String(err) }, `${command} on ${h.name_label} failed: ${String(err)}`);
      }
    }));
    return failures;
  }

  // ---- disable ----------------------------------------------------------------------------------

  /** pool.disable_ha (spec §1.4): via the statefile when the master reaches it, else without. */
  async disable(): Promise<void> {
    const svc = this.svc;
    if (!poolEntry(svc.db)[1].ha_enabled) throw new CommandError('HA_NOT_ENABLED', []);
    assertNoPoolOperation(this.operationInProgress());
    this.operation = 'ha_disable';
    try {
      const stack = this.stack;
      let viaStatefile = false;
      if (stack && stack.query().statefileAccess) {
        try {
          await stack.invalidate();
          viaStatefile = true;
        } catch (err) {
          this.log.warn({ msgId: 'POOL_HA_DISABLE_PATH', err: String(err) }, `cannot poison the statefile (${String(err)}); disabling without it`);
        }
      }
      await this.closeRedo();
      if (viaStatefile) {
        svc.log.info({ msgId: 'POOL_HA_DISABLE_PATH', path: 'statefile' }, 'disabling HA via the statefile');
        await this.localStopDaemon();
        await this.setDisabled();
        const t = this.timeouts() as HaTimeouts;
        await this.everyHost('host.ha_wait_for_shutdown_via_statefile', true, t.baseMs * 2 + svc.cfg.forwardTimeoutMs);
      } else {
        svc.log.info({ msgId: 'POOL_HA_DISABLE_PATH', path: 'no-statefile' }, 'disabling HA without the statefile');
        const failed = await this.everyHost('host.ha_disable_failover_decisions', true);
        if (failed.size > 0) {
          const [ref, err] = [...failed][0] as [Ref, unknown];
          throw err instanceof CommandError ? err : new CommandError('CANNOT_CONTACT_HOST', [ref]);
        }
        await this.setDisabled();
        await this.everyHost('host.ha_disarm_fencing', true);
        await this.everyHost('host.ha_stop_daemon', true);
      }
      await this.everyHost('host.ha_release_resources');
      svc.log.info({ msgId: 'POOL_HA_DISABLED' }, 'HA disabled');
      svc.handle.publish('pool-ha-disabled', {});
    } finally {
      this.operation = undefined;
    }
  }

  private async setDisabled(): Promise<void> {
    await this.svc.transact((db) => [{ op: 'mod', class: 'pool', ref: poolEntry(db)[0], fields: { ha_enabled: false, ha_plan_exists_for: 0 } }]);
  }

  private async localStopDaemon(): Promise<void> {
    await this.stack?.stop();
  }

  // ---- host-side internal calls ------------------------------------------------------------------

  /** host.preconfigure_ha: record this host's HA settings; the stack must exist here. */
  async preconfigure(a: { stack: string; generation: string; timeout_ms: number; device_config: Record<string, string> }): Promise<void> {
    const svc = this.svc;
    if (this.stackInfos().get(a.stack)?.installed !== true) throw new CommandError('UNKNOWN_CLUSTER_STACK', [a.stack]);
    if (this.stack) await this.stack.stop();
    this.stack = undefined;
    this.fenced = undefined;
    const ha: HaLocal = {
      armed: false, stack: a.stack, generation: a.generation, timeoutMs: a.timeout_ms, deviceConfig: a.device_config,
      disableFailoverDecisions: false, fences: this.local?.fences ?? [],
    };
    const stack = this.createStack(ha);
    await stack.prepare();
    await svc.changeLocal((s) => setHaLocal(s, ha));
  }

  /** host.ha_join_liveset: start the stack, join (the master contends for the lock), arm. */
  async joinLiveset(): Promise<void> {
    const svc = this.svc;
    const ha = this.local;
    if (!ha || !this.stack) throw new CommandError('HA_NOT_ENABLED', [], 'host.preconfigure_ha has not run on this host');
    if (ha.armed && this.stack.query().state === 'online') return;
    await this.stack.join({ mode: 'enable', contend: svc.local.role.kind === 'master' });
    this.stack.armFencing();
    await svc.changeLocal((s) => setHaLocal(s, { ...ha, armed: true, disableFailoverDecisions: false }));
  }

  async disableFailoverDecisions(): Promise<void> {
    const ha = this.local;
    if (!ha) return;
    this.stack?.disableFailoverDecisions();
    if (!ha.disableFailoverDecisions) await this.svc.changeLocal((s) => setHaLocal(s, { ...ha, disableFailoverDecisions: true }));
  }

  disarmFencing(): void {
    this.stack?.disarmFencing();
  }

  async stopDaemon(): Promise<void> {
    await this.stack?.stop();
  }

  /** host.ha_release_resources: stop, close the redo log, ha.armed ← false. */
  async releaseLocal(): Promise<void> {
    const svc = this.svc;
    const stack = this.stack;
    this.stack = undefined;
    this.report = undefined;
    stack?.disarmFencing();
    await stack?.stop();
    await this.closeRedo();
    this.bootRetry?.();
    this.stopMonitor();
    this.awaitingRejoin.clear();
    const ha = this.local;
    const governed = this.governs() || this.operation === 'ha_disable';
    if (ha?.armed) await svc.changeLocal((s) => setHaLocal(s, { ...ha, armed: false }));
    this.fenceLoop = undefined;
    // A master that was waiting for the lock (or handing back from HA) resumes its plain duties.
    if (governed && svc.local.role.kind === 'master') await svc.onRoleChanged();
  }

  async waitForShutdown(): Promise<void> {
    const stack = this.stack;
    if (!stack) return;
    const t = this.timeouts() as HaTimeouts;
    await stack.waitForShutdown(t.baseMs * 2);
  }

  /** host.emergency_ha_disable (spec §1.5): local only, never touches the pool database. */
  async emergencyDisable(soft: boolean): Promise<void> {
    const ha = this.local;
    if (!ha?.armed) {
      if (soft) return;
      throw new CommandError('HA_NOT_ENABLED', []);
    }
    this.stack?.disarmFencing();
    await this.stack?.leave().catch(() => undefined);
    await this.stack?.stop();
    await this.closeRedo();
    this.log.warn({ msgId: 'POOL_HA_EMERGENCY_DISABLE', soft }, `HA disabled on this host in an emergency${soft ? ' (soft: stays armed)' : ''}`);
    if (!soft) {
      this.stack = undefined;
      await this.svc.changeLocal((s) => setHaLocal(s, { ...ha, armed: false, fences: [] }));
      this.fenceLoop = undefined;
    }
  }

  // ---- status -----------------------------------------------------------------------------------

  status(): Record<string, unknown> {
    const ha = this.local;
    const t = this.timeouts();
    const r = this.stack?.query();
    const name = (u: string) => this.memberByUuid(u)?.name ?? u;
    return {
      armed: ha?.armed === true,
      ...(ha ? { stack: ha.stack, generation: ha.generation, failover_decisions: !ha.disableFailoverDecisions } : {}),
      ...(t ? { timeouts: describeTimeouts(t) } : {}),
      ...(r ? {
        state: r.state,
        liveset: r.liveset.map(name),
        network: r.network.map(name),
        statefile: r.statefile.map(name),
        statefile_access: r.statefileAccess,
        statefile_lost: r.statefileLost,
        fencing_armed: r.fencingArmed,
        master_lock: r.master ? name(r.master) : null,
        i_am_master: r.iAmMaster,
        ...(r.splitSurvivor ? { split_survivor: r.splitSurvivor } : {}),
        ...(r.detail ? { detail: r.detail } : {}),
      } : {}),
      ...(this.fenced ? { fenced: this.fenced.reason } : {}),
      ...(this.fenceLoop ? { fence_loop: this.fenceLoop.reason } : {}),
      ...(ha && ha.fences.length > 0 ? { recent_fences: ha.fences.map((f) => new Date(f).toISOString()) } : {}),
      fence_exit_code: FENCE_EXIT_CODE,
    };
  }

}
