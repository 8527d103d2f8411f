import { readFileSync } from 'node:fs';
import type { Timer } from '../../../core/clock.ts';
import { CommandError } from '../../../core/errors.ts';
import type { Store } from '../../../store/store.ts';
import type { ClusterStack, ClusterStackFactory, LivesetReport, StackContext, StackListener, StackState } from '../ha/cluster-stack.ts';
import { connectionProblem, describeEtcdError, isPermanentEtcdError, openEtcd, probeTls, parseEndpoints, type EtcdConnectionOptions } from './etcd-connection.ts';
import { etcdParameterProblems, type EtcdStackParameters } from './etcd-parameters.ts';
import { etcdVerdict, leaseGoneAction, type EtcdVerdict, type PeerView } from './etcd-rules.ts';
import { EtcdSession } from './etcd-session.ts';
import { EtcdStore } from './etcd-store.ts';

/** The SR type that stands for an etcd cluster: device_config `endpoints` (and optionally `prefix`). */
export const ETCD_SR_TYPE = 'etcd';

export type { EtcdStackParameters } from './etcd-parameters.ts';

/** What one host says to the others over the network every heartbeat interval. */
interface EtcdBeat {
  readonly stack: 'etcd';
  readonly from: string;
  readonly generation: string;
  readonly state: 'online' | 'joining' | 'left';
  readonly leaseHeld: boolean;
  /** ms between this host's last completed etcd call and the moment the beat was sent; null if none. */
  readonly etcdOkAgoMs: number | null;
}

/**
 * The lease TTL from T (whole seconds, as etcd grants them): a dead host leaves the liveset when its
 * lease expires, which is what T bounds under xhad. etcd raises TTLs below 1.5 × its election timeout
 * (1 s by default) to that minimum, so 2 s is the floor.
 */
export function leaseTtlSeconds(baseMs: number): number {
  return Math.max(2, Math.round(baseMs / 1000));
}

/**
 * The `etcd` cluster stack: the same contract to the pool as xhad, with etcd in the statefile's
 * place. Liveness is a key per host under its own lease; the master lock is etcd's election (the
 * lowest campaign revision under `<prefix>/election/`); the HA redo log is an EtcdStore whose writes
 * are fenced by the holder's campaign revision; the pool-wide HA state (init/active/invalid) is the
 * key `<prefix>/state`. Hosts still heartbeat each other over the network so that a host without
 * its lease can tell an etcd outage (nobody fences) from being cut off alone (it fences): see
 * etcd-rules.ts.
 */
export class EtcdStack implements ClusterStack {
  readonly name = 'etcd';
  private readonly connection: EtcdConnectionOptions;
  private readonly ttlSeconds: number;
  private session: EtcdSession | undefined;
  private listener: StackListener | undefined;
  private mode: StackState = 'stopped';
  private contend = false;
  private failoverAllowed = true;
  private fencingArmed = false;
  private fenced = false;
  private frozen = false;
  private cut = false;
  private leaving = false;
  private beats = new Map<string, { at: number; beat: EtcdBeat }>();
  private tickTimer: Timer | undefined;
  private beatTimer: Timer | undefined;
  private lastTickAt: number | undefined;
  private verdict: EtcdVerdict = { kind: 'ok' };
  private joinWaiter: { resolve(): void; reject(e: unknown): void } | undefined;
  private stopWaiters: (() => void)[] = [];
  private lastReport = '';
  private campaigning: Promise<void> | undefined;
  private readonly beating = new Set<string>();
  /** A clean leave or stop is under way: a lease going away then is expected. */
  private stopping = false;

  constructor(private readonly ctx: StackContext, params: EtcdStackParameters = {}) {
    const endpoints = ctx.deviceConfig['endpoints'];
    if (endpoints === undefined || endpoints.trim() === '') {
      throw new CommandError('HA_HOST_CANNOT_ACCESS_STATEFILE', [], "the heartbeat SR's device_config has no endpoints (the etcd client URLs)");
    }
    let list: string[];
    try {
      list = parseEndpoints(endpoints);
    } catch (err) {
      throw new CommandError('HA_HOST_CANNOT_ACCESS_STATEFILE', [], (err as Error).message);
    }
    const problems = etcdParameterProblems(params);
    if (problems.length > 0) throw new CommandError('HA_HOST_CANNOT_ACCESS_STATEFILE', [], problems.join('; '));
    let password = params.password;
    if (params['password-file'] !== undefined) {
      try {
        password = readFileSync(params['password-file'], 'utf8').trim();
      } catch (err) {
        throw new CommandError('HA_HOST_CANNOT_ACCESS_STATEFILE', [], `cluster-stacks.etcd.password-file: cannot read ${params['password-file']}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    }
    const tls = {
      ...(params['trust-anchor'] !== undefined ? { 'trust-anchor': params['trust-anchor'] } : {}),
      ...(params['cert-file'] !== undefined ? { 'cert-file': params['cert-file'] } : {}),
      ...(params['key-file'] !== undefined ? { 'key-file': params['key-file'] } : {}),
    };
    this.connection = {
      endpoints: list,
      prefix: (ctx.deviceConfig['prefix'] ?? `/liveset/${ctx.poolUuid}`).replace(/\/+$/, ''),
      ...(Object.keys(tls).length > 0 ? { tls } : {}),
      ...(params.user !== undefined && password !== undefined ? { auth: { user: params.user, password } } : {}),
      callTimeoutMs: Math.max(500, Math.min(2000, Math.floor(ctx.timeouts.heartbeatIntervalMs))),
    };
    const mismatch = connectionProblem(this.connection);
    if (mismatch !== undefined) throw new CommandError('HA_HOST_CANNOT_ACCESS_STATEFILE', [], mismatch);
    this.ttlSeconds = leaseTtlSeconds(ctx.timeouts.baseMs);
  }

  private now(): number {
    return this.ctx.clock.monotonicMs();
  }

  private unreachable(err: unknown): CommandError {
    if (err instanceof CommandError) return err;
    return new CommandError('HA_HOST_CANNOT_ACCESS_STATEFILE', [], `cannot use etcd at ${this.connection.endpoints.join(',')}: ${describeEtcdError(err, this.connection)}`);
  }

  /**
   * The reason behind a failed etcd call: when gRPC gives none (a TLS failure often reaches the
   * caller as a bare "No connection established"), a TLS handshake of its own finds it.
   */
  private async diagnose(err: unknown): Promise<unknown> {
    if (err instanceof CommandError || isPermanentEtcdError(err)) return err;
    return (await probeTls(this.connection).catch(() => undefined)) ?? err;
  }

  /**
   * Writes the pool-wide HA state key, through the session when this host has one, else through a
   * short-lived client (enable's early phases). `invalid` names this host, the one that disabled HA.
   */
  private async putPoolState(state: 'init' | 'active' | 'invalid'): Promise<void> {
    if (this.cut) throw this.unreachable(new Error('etcd cut off (testing fault)'));
    const value = { state, generation: this.ctx.generation, ...(state === 'invalid' ? { master: this.ctx.me.uuid } : {}) };
    if (this.session !== undefined) return this.session.setPoolState(value);
    const client = await openEtcd(this.connection);
    try {
      await client.put(`${this.connection.prefix}/state`).value(JSON.stringify(value)).exec();
    } finally {
      client.close();
    }
  }

  async prepare(): Promise<void> {
    try {
      const client = await openEtcd(this.connection);
      try {
        if (this.cut) throw new Error('etcd cut off (testing fault)');
        await client.get(`${this.connection.prefix}/state`).string();
      } finally {
        client.close();
      }
    } catch (err) {
      throw this.unreachable(await this.diagnose(err));
    }
  }

  async initialise(): Promise<void> {
    await this.putPoolState('init').catch(async (err) => {
      throw this.unreachable(await this.diagnose(err));
    });
  }

  async activate(): Promise<void> {
    await this.putPoolState('active');
  }

  async invalidate(): Promise<void> {
    await this.putPoolState('invalid');
  }

  /** Who disabled HA, as the invalid state key says: the pool master the other hosts follow. */
  private invalidatedBy: string | undefined;

  join(opts: { readonly mode: 'enable' | 'boot'; readonly contend: boolean }): Promise<void> {
    if (this.mode === 'online') return Promise.resolve();
    this.contend = opts.contend;
    this.stopping = false;
    this.fenced = false;
    this.leaving = false;
    this.mode = 'joining';
    const deadline = this.now() + (opts.mode === 'enable' ? this.ctx.timeouts.enableJoinMs : this.ctx.timeouts.bootJoinMs);
    const waiter = new Promise<void>((resolve, reject) => (this.joinWaiter = { resolve, reject }));
    void this.connect(opts.mode, deadline);
    this.startLoops();
    return waiter;
  }

  /** Opens the session, retrying until the join deadline; then checks the pool-wide state. */
  private async connect(mode: 'enable' | 'boot', deadline: number): Promise<void> {
    let lastErr: unknown;
    let lastWhy: string | undefined;
    while (this.mode === 'joining' && this.session === undefined) {
      try {
        if (this.cut) throw new Error('etcd cut off (testing fault)');
        const session = new EtcdSession({
          connection: this.connection,
          ttlSeconds: this.ttlSeconds,
          self: { uuid: this.ctx.me.uuid, address: this.ctx.me.address, generation: this.ctx.generation },
          contender: this.contend && this.failoverAllowed,
          now: () => this.now(),
          log: this.ctx.logger,
          onChange: () => queueMicrotask(() => this.evaluate()),
          onLeaseExpired: (why) => this.leaseGone(session, why),
        });
        await session.start();
        if (this.mode !== 'joining') {
          await session.stop();
          return;
        }
        this.session = session;
      } catch (err) {
        lastErr = await this.diagnose(err);
        const why = describeEtcdError(lastErr, this.connection);
        if (why !== lastWhy) {
          lastWhy = why;
          this.ctx.logger.warn({ msgId: 'POOL_ETCD_UNREACHABLE', err: why, mode }, `cannot join through etcd: ${why}`);
        }
        // Enabling HA with settings etcd refuses (TLS, user, permissions) fails at once, naming
        // them; a booting host keeps trying until its deadline, as the operator may be fixing them.
        if (this.now() >= deadline || (mode === 'enable' && isPermanentEtcdError(lastErr))) {
          this.finishJoin(this.unreachable(lastErr));
          return;
        }
        await new Promise<void>((r) => this.ctx.clock.setTimer(500, r));
      }
    }
    const pool = this.session?.poolState();
    if (this.session !== undefined && mode === 'boot' && (pool === undefined || pool.state === 'invalid' || pool.generation !== this.ctx.generation)) {
      this.ctx.logger.warn({ msgId: 'POOL_HA_INVALIDATED', state: pool?.state, generation: pool?.generation }, 'etcd says HA was disabled (or enabled again) while this host was away; stopping the HA daemon');
      this.invalidatedBy = pool?.master;
      await this.halt();
      this.finishJoin(new CommandError('HA_NOT_ENABLED', []));
      this.listener?.invalidated();
      return;
    }
    this.evaluate();
  }

  private finishJoin(err?: unknown): void {
    const w = this.joinWaiter;
    this.joinWaiter = undefined;
    if (err === undefined) w?.resolve();
    else {
      if (this.mode === 'joining') void this.halt();
      w?.reject(err);
    }
  }

  setContend(contend: boolean): void {
    this.contend = contend;
    this.reconsiderCampaign();
  }

  /**
   * The pool master campaigns from the start; every other host only when nobody holds the lock
   * (a failover), so that enabling HA never moves the master. A host that stops contending withdraws
   * from the queue unless it already holds the lock: the pool learns of a win before it changes
   * the host's role, and withdrawing then would hand the lock straight back.
   */
  private reconsiderCampaign(): void {
    const s = this.session;
    if (s === undefined || this.campaigning !== undefined || this.cut || this.frozen || this.mode !== 'online') return;
    const lock = s.masterLock();
    const mine = lock !== undefined && lock.key === s.campaignKey();
    // Joining the queue needs a live lease; leaving it never depends on the lease: a holder whose
    // keepalives lapse for a moment (an etcd leader election) must keep its place, since etcd may
    // well still hold its lease, and withdrawing would hand the lock to another host for nothing.
    const join = this.failoverAllowed && s.leaseState() === 'held' && (this.contend || lock === undefined);
    const withdraw = !this.failoverAllowed ? !mine : !this.contend && lock !== undefined && !mine;
    if (join && !s.isCampaigning()) {
      this.campaigning = s.campaign().catch((err) => this.ctx.logger.warn({ msgId: 'POOL_ETCD_CAMPAIGN_FAILED', err: String(err) }, `etcd campaign failed: ${String(err)}`));
    } else if (withdraw && s.isCampaigning()) {
      this.campaigning = s.resign().catch(() => undefined);
    }
    void this.campaigning?.finally(() => {
      this.campaigning = undefined;
      this.evaluate();
    });
  }

  private startLoops(): void {
    this.lastTickAt = undefined;
    this.scheduleTick();
    this.scheduleBeat(0);
  }

  private scheduleTick(): void {
    this.tickTimer = this.ctx.clock.setTimer(this.ctx.timeouts.tickMs, () => {
      if (this.mode === 'stopped') return;
      this.tick();
      this.scheduleTick();
    });
  }

  /** The watchdog: a loop that stalled past the heartbeat watchdog bound fences, as under xhad. */
  private tick(): void {
    if (this.frozen) return;
    const at = this.now();
    const last = this.lastTickAt;
    this.lastTickAt = at;
    if (last !== undefined && at - last > this.ctx.timeouts.heartbeatWatchdogMs && this.mode === 'online') {
      this.fence(`watchdog: the etcd stack's loop stalled for ${Math.round(at - last)} ms (bound ${this.ctx.timeouts.heartbeatWatchdogMs} ms)`);
      return;
    }
    this.evaluate();
  }

  private scheduleBeat(delay: number): void {
    this.beatTimer = this.ctx.clock.setTimer(delay, () => {
      if (this.mode === 'stopped') return;
      if (!this.frozen) this.beat();
      this.scheduleBeat(this.ctx.timeouts.heartbeatIntervalMs);
    });
  }

  private beatMessage(): EtcdBeat {
    const s = this.session;
    const ok = s?.lastSuccessAt();
    return {
      stack: 'etcd',
      from: this.ctx.me.uuid,
      generation: this.ctx.generation,
      state: this.leaving ? 'left' : this.mode === 'online' ? 'online' : 'joining',
      leaseHeld: s !== undefined && !this.cut && s.leaseState() === 'held',
      etcdOkAgoMs: ok === undefined || this.cut ? null : Math.max(0, Math.round(this.now() - ok)),
    };
  }

  private beat(): void {
    const msg = this.beatMessage();
    for (const m of this.ctx.members) {
      if (m.uuid === this.ctx.me.uuid || this.beating.has(m.uuid)) continue;
      this.beating.add(m.uuid);
      void this.ctx
        .callPeer(this.ctx.peerOf(m), 'host.ha_heartbeat', { message: msg }, this.ctx.timeouts.heartbeatIntervalMs * 2)
        .catch(() => undefined)
        .finally(() => this.beating.delete(m.uuid));
    }
  }

  receive(message: unknown): void {
    const b = message as EtcdBeat;
    if (this.mode === 'stopped' || this.frozen || b?.stack !== 'etcd' || typeof b.from !== 'string' || b.generation !== this.ctx.generation) return;
    if (!this.ctx.members.some((m) => m.uuid === b.from)) return;
    this.beats.set(b.from, { at: this.now(), beat: b });
  }

  private peerViews(): PeerView[] {
    const out: PeerView[] = [];
    for (const [uuid, { at, beat }] of this.beats) {
      if (beat.state === 'left') continue;
      out.push({ uuid, heardAt: at, etcdOkAt: beat.etcdOkAgoMs === null ? undefined : at - beat.etcdOkAgoMs });
    }
    return out;
  }

  /** etcd answers and says the lease is gone: fence, unless the rule says it expired in an outage. */
  private leaseGone(session: EtcdSession, why: string): void {
    if (this.mode !== 'online' || this.stopping) return;
    this.evaluate();
    if (this.mode !== 'online' || this.stopping) return;
    const action = leaseGoneAction(this.verdict, session.failuresSinceSuccess(), why);
    if (action.kind === 'fence') {
      this.fence(action.reason);
      return;
    }
    this.ctx.logger.warn({ msgId: 'POOL_ETCD_LEASE_EXPIRED_IN_OUTAGE' }, action.reason);
  }

  /** Re-reads the session, applies the survival rule, and tells the pool what changed. */
  private evaluate(): void {
    const s = this.session;
    if (s === undefined || this.mode === 'stopped' || this.frozen) return;
    const pool = s.poolState();
    if (this.mode === 'online' && pool !== undefined && pool.state === 'invalid' && pool.generation === this.ctx.generation) {
      this.ctx.logger.warn({ msgId: 'POOL_HA_INVALIDATED' }, 'etcd says HA was disabled; stopping the HA daemon');
      this.invalidatedBy = pool.master;
      void this.halt().then(() => this.listener?.invalidated());
      return;
    }
    if (this.mode === 'joining' && s.liveSet().has(this.ctx.me.uuid) && s.leaseState() === 'held') {
      this.mode = 'online';
      this.ctx.logger.info({ msgId: 'POOL_HA_JOINED', liveset: this.liveset() }, 'joined the HA liveset (etcd)');
      this.finishJoin();
    }
    if (this.mode === 'online') {
      const held = s.leaseState() === 'held' && !this.cut;
      const verdict = etcdVerdict({
        leaseHeld: held,
        ownFailures: s.failuresSinceSuccess(),
        peers: this.peerViews(),
        now: this.now(),
        heartbeatTimeoutMs: this.ctx.timeouts.heartbeatTimeoutMs,
        slackMs: 200,
        minRunMs: Math.floor((this.ttlSeconds * 1000) / 3),
      });
      const before = this.verdict;
      this.verdict = verdict;
      if (verdict.kind === 'fence') {
        this.fence(verdict.reason);
        return;
      }
      if (verdict.kind === 'outage' && before.kind !== 'outage') {
        this.ctx.logger.warn({ msgId: 'HA_STATEFILE_LOST', stack: 'etcd', reason: verdict.reason }, `All live servers have lost access to etcd: ${verdict.reason}`);
      } else if (verdict.kind === 'ok' && before.kind === 'outage') {
        this.ctx.logger.info({ msgId: 'POOL_HA_STATEFILE_REGAINED', stack: 'etcd' }, 'etcd is reachable again; this host holds its lease');
      }
      this.reconsiderCampaign();
    }
    this.notify();
  }

  private liveset(): string[] {
    const s = this.session;
    if (s === undefined) return [];
    const members = new Set(this.ctx.members.map((m) => m.uuid));
    return [...s.liveSet().values()].filter((h) => members.has(h.uuid) && h.generation === this.ctx.generation).map((h) => h.uuid).sort();
  }

  private notify(): void {
    const r = this.query();
    const key = JSON.stringify([r.state, r.liveset, r.master, r.iAmMaster, r.statefileLost, r.statefileAccess]);
    if (key === this.lastReport) return;
    this.lastReport = key;
    this.listener?.changed(r);
  }

  private fence(reason: string): void {
    if (!this.fencingArmed) {
      this.ctx.logger.error({ msgId: 'POOL_HA_FENCE_DISARMED', reason }, `this host should fence (${reason}) but fencing is disarmed; stopping the HA daemon instead`);
      void this.halt().then(() => this.notify());
      return;
    }
    this.fenced = true;
    this.leaving = true;
    void this.halt();
    this.listener?.fence({ reason });
  }

  /** Stops the loops and the session (its lease is revoked when etcd can be reached). */
  private async halt(): Promise<void> {
    const wasOnline = this.mode !== 'stopped';
    this.mode = 'stopped';
    this.tickTimer?.cancel();
    this.beatTimer?.cancel();
    const s = this.session;
    this.session = undefined;
    if (s !== undefined) await s.stop().catch(() => undefined);
    if (wasOnline) for (const w of this.stopWaiters.splice(0)) w();
  }

  async leave(): Promise<void> {
    if (this.mode === 'stopped') return;
    this.stopping = true;
    this.leaving = true;
    this.beat();
    await this.session?.resign().catch(() => undefined);
    await this.halt();
  }

  query(): LivesetReport {
    const s = this.session;
    const online = this.mode === 'online' && s !== undefined;
    const held = online && !this.cut && !this.frozen && s.leaseState() === 'held';
    const lock = online && held ? s.masterLock() : undefined;
    const heard = [...this.beats].filter(([, b]) => this.now() - b.at <= this.ctx.timeouts.heartbeatTimeoutMs && b.beat.state !== 'left').map(([u]) => u);
    const state: StackState = this.fenced ? 'fenced' : this.mode;
    const liveset = online ? this.liveset() : [];
    return {
      state,
      liveset,
      network: [...new Set([this.ctx.me.uuid, ...heard])].sort(),
      statefile: liveset,
      statefileAccess: held && s.isReachable(),
      master: lock?.uuid ?? (this.mode === 'stopped' ? this.invalidatedBy ?? null : null),
      iAmMaster: held && s.holdsMasterLock(),
      fencingArmed: this.fencingArmed,
      failoverDecisions: this.failoverAllowed,
      statefileLost: online && this.verdict.kind === 'outage',
      detail: {
        etcd_endpoints: this.connection.endpoints.join(','),
        etcd_prefix: this.connection.prefix,
        lease_ttl_s: this.ttlSeconds,
        lease: s?.leaseState() ?? 'none',
        etcd_reachable: s?.isReachable() ?? false,
        ...(s?.lastErrorText() ? { etcd_error: s.lastErrorText() } : {}),
        ...(lock ? { master_lock_revision: lock.createRevision } : {}),
        ...(this.verdict.kind !== 'ok' ? { verdict: this.verdict.reason } : {}),
        split_rule: 'a host that keeps its etcd lease survives; one cut off from etcd while others reach it fences, whatever the network split',
        ...(this.frozen ? { frozen: true } : {}),
        ...(this.cut ? { etcd_cut: true } : {}),
      },
    };
  }

  watch(listener: StackListener): void {
    this.listener = listener;
  }

  armFencing(): void {
    this.fencingArmed = true;
  }

  disarmFencing(): void {
    this.fencingArmed = false;
  }

  disableFailoverDecisions(): void {
    this.failoverAllowed = false;
    this.reconsiderCampaign();
  }

  waitForShutdown(timeoutMs: number): Promise<void> {
    if (this.mode === 'stopped') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = this.ctx.clock.setTimer(timeoutMs, () => {
        this.stopWaiters = this.stopWaiters.filter((w) => w !== done);
        const reachable = this.session?.isReachable() === true;
        reject(new CommandError(reachable ? 'HA_FAILED_TO_FORM_LIVESET' : 'HA_LOST_STATEFILE', [], reachable ? 'the HA daemon did not stop' : undefined));
      });
      const done = () => {
        timer.cancel();
        resolve();
      };
      this.stopWaiters.push(done);
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.halt();
    const w = this.joinWaiter;
    this.joinWaiter = undefined;
    w?.reject(new CommandError('HA_NOT_ENABLED', [], 'the HA daemon was stopped'));
  }

  async openRedoLog(): Promise<Store> {
    const s = this.session;
    if (s === undefined || this.cut) throw this.unreachable(new Error(this.cut ? 'etcd cut off (testing fault)' : 'not joined'));
    return EtcdStore.open(s.etcd(), this.connection.prefix, 'ha-redo', () => (this.cut || this.frozen ? undefined : s.fencingToken()));
  }

  setFault(fault: 'medium-cut' | 'medium-heal' | 'freeze' | 'thaw'): void {
    this.ctx.logger.warn({ msgId: 'POOL_HA_FAULT', fault, stack: 'etcd' }, `testing fault: ${fault}`);
    if (fault === 'medium-cut' || fault === 'medium-heal') {
      this.cut = fault === 'medium-cut';
      this.session?.setCut(this.cut);
    }
    if (fault === 'freeze' || fault === 'thaw') {
      // A frozen host sends nothing, keepalives included: its lease runs out as a hung host's would,
      // and on thaw the watchdog sees the stall and fences.
      this.frozen = fault === 'freeze';
      this.session?.setPaused(this.frozen);
      // On thaw the watchdog looks first: the stall is the reason this host must go.
      if (!this.frozen) {
        this.tick();
        return;
      }
    }
    this.evaluate();
  }
}

export const etcdFactory: ClusterStackFactory = {
  name: 'etcd',
  statefileSrTypes: [ETCD_SR_TYPE],
  create: (ctx) => new EtcdStack(ctx, (ctx.parameters ?? {}) as EtcdStackParameters),
};
