import { randomUUID } from 'node:crypto';
import type { Timer } from '../../core/clock.ts';
import { CommandError } from '../../core/errors.ts';
import { PeerUnreachableError, type LibraryHandle, type PeerAddress } from '../../core/hooks/hook-library.ts';
import type { Store } from '../../store/store.ts';
import { answerError } from './commands/guard.ts';
import { applyRecord, asDatabase, commit, emptyDatabase, hostByAddress, isDbRedoRecord, isLive } from './model/database.ts';
import { appendEvents, emptyEvents, eventsFor, type EventBuffer } from './model/events.ts';
import { emptyLiveness, type LivenessTable } from './model/liveness.ts';
import {
  actingRole, activeProposal, initialLocalState, localRecordsOf, masterAddressOf, replayLocal, type ActingRole, type LocalState, type LocalStep,
} from './model/local-state.ts';
import { bootstrap, hostRefOf, setMaster } from './model/operations.ts';
import type { Database, DbChange, DbRedoRecord, Ref } from './model/records.ts';
import type { PoolConfig, PoolHost } from './pool-config.ts';
import { poolInPlaceChanges } from './pool-reconfigure.ts';
import { ManagementListener } from './management-listener.ts';
import { SessionTable } from './sessions.ts';
import { PoolTimers } from './pool-timers.ts';
import { executeLocal, resumeCoordination } from './master-change-runner.ts';
import type { PoolPlanner } from './pool-planner.ts';
import type { RestartRunner } from './ha-restarts.ts';
import { PoolHa } from './ha/ha-service.ts';

const EVENT_CAPACITY = 10_000;
/** Redo records after which the database store is compacted into a snapshot. */
const SNAPSHOT_EVERY = 2_000;

/** A database transaction waiting for the next commit batch. */
interface PendingTx {
  readonly fn: (db: Database) => DbChange[];
  /** Commit even without changes (event.inject needs a new generation). */
  readonly force: boolean;
  resolve(db: Database): void;
  reject(err: unknown): void;
}

/**
 * The pool's imperative shell on one host: owns the pure model's state (pool database, local
 * role/promise, liveness table, event buffer), the two stores, and the timers. Every change goes
 * through `transact` / `changeLocal`, which run one at a time and append to the redo log before
 * the new state becomes visible, so nothing acknowledged is lost on kill -9.
 */
export class PoolService {
  readonly me: PoolHost;
  readonly myRef: Ref;
  readonly sessions: SessionTable;
  local: LocalState;
  db: Database = emptyDatabase();
  events: EventBuffer = emptyEvents(0, EVENT_CAPACITY);
  liveness: LivenessTable = emptyLiveness();
  /** Set while this host forwards a designate_new_master to its target. */
  designating = false;
  /** Set while this host coordinates a master change (taken before its first await). */
  coordinating = false;
  readonly faultPoints = new Map<string, number>();
  faultWaiting: string | undefined;
  private localStore: Store | undefined;
  private dbStore: Store | undefined;
  private dbRecords = 0;
  private queue: Promise<unknown> = Promise.resolve();
  /** Tasks on `queue` (commits, snapshots, replacements) not settled yet. */
  private serializing = 0;
  private readonly pendingTx: PendingTx[] = [];
  private readonly waiters = new Set<() => void>();
  /** Every timer this service set outside PoolTimers; stop() cancels them all. */
  private readonly timerSet = new Set<{ timer: Timer; cancelled(): void }>();
  readonly timers: PoolTimers;
  /** The failover planner and the restart runner (set by the library entry; see pool-planner.ts). */
  planner!: PoolPlanner;
  restarts!: RestartRunner;
  /** Pool HA on this host: enable/disable, the cluster stack, the lock, the redo log, fencing. */
  readonly ha: PoolHa;
  /** The floating management address, when the pool has one (management-listener.ts). */
  readonly management: ManagementListener | undefined;
  stopped = false;

  /** The configuration every duty reads where it acts (replaced by reconfigure). */
  get cfg(): PoolConfig {
    return this.config;
  }

  /**
   * Takes new timers, credentials and session limits without a restart (pool-reconfigure.ts):
   * the database, roles, liveness and HA stay as they are; each duty reads the new values the
   * next time it runs (the next heartbeat, sweep, forward or login). False when the library must
   * restart instead.
   */
  reconfigure(next: PoolConfig): boolean {
    const changed = poolInPlaceChanges(this.config, next);
    if (changed === undefined) return false;
    this.config = { ...next, ...(this.config.peerAuth ? { peerAuth: this.config.peerAuth } : {}), ...(this.config.peerTls ? { peerTls: this.config.peerTls } : {}) };
    this.log.info({ msgId: 'POOL_RECONFIGURED', changed }, `pool settings changed in place: ${changed.join(', ') || 'none'}`);
    return true;
  }

  constructor(private config: PoolConfig, readonly handle: LibraryHandle) {
    const cfg = config;
    const me = cfg.hosts.find((h) => h.name === handle.serverName);
    if (!me) throw new Error(`this server '${handle.serverName}' is not a host of pool '${cfg.name}'`);
    this.me = me;
    this.myRef = hostRefOf(cfg.name, me.name);
    const master = cfg.hosts.find((h) => h.name === cfg.master) as PoolHost;
    this.local = initialLocalState(me.name === cfg.master, master.address);
    this.timers = new PoolTimers(this);
    this.ha = new PoolHa(this);
    this.management = cfg.managementUrl !== undefined ? new ManagementListener(this, cfg.managementUrl) : undefined;
    this.sessions = new SessionTable(
      () => randomUUID(),
      () => handle.clock.monotonicMs(),
      () => this.cfg.sessionLimits,
      (ref, user, why, limits) => {
        if (why === 'evicted') {
          this.log.warn(
            { msgId: 'POOL_SESSION_EVICTED', user, session: ref, limit: 'sessions.max-per-user', value: limits.maxPerUser },
            `user ${user} logged in with ${limits.maxPerUser} sessions open (sessions.max-per-user): its least recently used session ${ref} is ended`,
          );
        } else {
          this.log.debug({ msgId: 'POOL_SESSION_EXPIRED', user, session: ref, idleMs: limits.idleMs }, `session ${ref} of ${user} expired after ${limits.idleMs} ms unused (sessions.idle-timeout)`);
        }
      },
    );
  }

  get log() {
    return this.handle.logger;
  }

  wallMs(): number {
    return this.handle.clock.wallMs();
  }

  /** Recovers both stores, then starts acting in the recovered role. */
  async start(): Promise<void> {
    this.localStore = await this.handle.stores.open('pool-local');
    const snap = this.localStore.snapshot as LocalState | undefined;
    this.local = replayLocal(snap && typeof snap === 'object' && 'role' in snap ? snap : this.local, localRecordsOf(this.localStore.records));
    this.dbStore = await this.handle.stores.open('pool-db');
    let db = asDatabase(this.dbStore.snapshot) ?? emptyDatabase();
    for (const r of this.dbStore.records) if (isDbRedoRecord(r)) db = applyRecord(db, r);
    this.db = db;
    this.dbRecords = this.dbStore.records.length;
    this.events = emptyEvents(db.generation, EVENT_CAPACITY);
    this.log.info({ msgId: 'POOL_STARTED', host: this.me.name, role: this.local.role, generation: db.generation }, `pool host ${this.me.name} recovered at generation ${db.generation}`);
    await this.onRoleChanged();
    resumeCoordination(this);
    await this.ha.start();
    this.management?.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    // Let go of the floating address first, so the next master can take it at once.
    await this.management?.stop();
    // Under HA a slave tells the master it is going down before it leaves the liveset, so the
    // master counts a clean shutdown, not a failure (spec §1.8: no HA_HOST_FAILED for it).
    const haGoverned = this.ha.governs();
    if (haGoverned) await this.timers.sendShutdownHeartbeat();
    await this.ha.shutdown();
    this.timers.stopAll();
    for (const t of [...this.timerSet]) {
      t.timer.cancel();
      t.cancelled();
    }
    this.timerSet.clear();
    this.wake();
    await this.queue.catch(() => undefined);
    if (!haGoverned) await this.timers.sendShutdownHeartbeat();
    await this.localStore?.close();
    await this.dbStore?.close();
  }

  /**
   * What this host acts as. Under HA the master lock decides: master only while this host holds
   * it within its lease (so two hosts never both act as master); a fenced host is never master.
   */
  acting(): ActingRole {
    if (this.ha.fenced) return 'slave';
    if (this.ha.governs()) return this.local.role.kind === 'master' && this.ha.iAmMaster() ? 'master' : 'slave';
    return actingRole(this.local, this.me.address, this.wallMs(), this.cfg.proposalTimeoutMs);
  }

  masterAddress(): string {
    if (this.ha.governs()) {
      const holder = this.ha.holderAddress();
      if (holder !== undefined) return holder;
    }
    return masterAddressOf(this.local, this.me.address);
  }

  proposal() {
    return activeProposal(this.local, this.wallMs(), this.cfg.proposalTimeoutMs);
  }

  hostByAddress(address: string): PoolHost | undefined {
    return this.cfg.hosts.find((h) => h.address === address);
  }

  refOfAddress(address: string): Ref {
    const h = this.hostByAddress(address);
    return h ? hostRefOf(this.cfg.name, h.name) : address;
  }

  peerOf(host: PoolHost): PeerAddress {
    return { name: host.name, url: host.url, ...(this.cfg.peerAuth ? { auth: this.cfg.peerAuth } : {}), ...(this.cfg.peerTls && host.url.startsWith('https:') ? { tls: this.cfg.peerTls } : {}) };
  }

  /**
   * Master-only calls: a slave answers HOST_IS_SLAVE [master address] so XenAPI clients redirect;
   * an old master that has promised another host answers reads but refuses writes until the
   * change commits or its promise expires.
   */
  requireMaster(write: boolean): void {
    this.ha.assertNotFenced();
    const role = this.acting();
    if (role === 'slave') throw new CommandError('HOST_IS_SLAVE', [this.masterAddress()]);
    if (role === 'transitioning' && write) throw new CommandError('DESIGNATE_NEW_MASTER_IN_PROGRESS', []);
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    this.serializing++;
    const run = this.queue.then(fn, fn);
    const settled = () => void this.serializing--;
    this.queue = run.then(settled, settled);
    return run;
  }

  /**
   * Runs one database transaction: `fn` computes the changes from the current database (or throws
   * a CommandError and nothing changes); they are appended to the redo log, then applied.
   *
   * Transactions that arrive while a commit is syncing are committed together as the next batch:
   * each is computed in order on top of the previous one, all their records are appended at once
   * (the store shares one fsync among them), and only after that sync do they become visible and
   * their callers get answers. Durable before visible holds for every one of them; the fsync is no
   * longer paid once per heartbeat.
   */
  transact(fn: (db: Database) => DbChange[]): Promise<Database> {
    return this.enqueue(fn, false);
  }

  /**
   * `transact` for a change that is usually empty (a heartbeat from a host already live). With no
   * transaction waiting and nothing on the queue, `fn` runs on the current database at once, and
   * if it changes nothing the caller is answered without queueing a batch: the same outcome as
   * `transact` (the same checks, nothing to write), without its chain of promises a thousand times
   * a second on a big pool's master. Otherwise (a change, or a commit still running, which the
   * change must be ordered after) it is queued as usual, so `fn` must be pure: it may run twice.
   */
  transactIfChanged(fn: (db: Database) => DbChange[]): Promise<Database> {
    if (this.pendingTx.length === 0 && this.serializing === 0) {
      try {
        this.requireStore(this.dbStore);
        this.ha.assertCanCommit();
        if (fn(this.db).length === 0) return Promise.resolve(this.db);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return this.transact(fn);
  }

  /** An event-only transaction (event.inject): a new generation even without field changes. */
  touch(changes: DbChange[]): Promise<Database> {
    return this.enqueue(() => changes, true);
  }

  private enqueue(fn: (db: Database) => DbChange[], force: boolean): Promise<Database> {
    return new Promise<Database>((resolve, reject) => {
      this.pendingTx.push({ fn, force, resolve, reject });
      if (this.pendingTx.length === 1) void this.serialize(() => this.commitBatch());
    });
  }

  /**
   * Commits every transaction waiting now as one batch. Whatever throws on the way (a store that
   * failed, an event that cannot be built, the snapshot), every caller of the batch gets an
   * answer: an error if its change did not become durable, its result if it did.
   */
  private async commitBatch(): Promise<void> {
    const batch = this.pendingTx.splice(0);
    const settled = new Set<PendingTx>();
    const resolve = (tx: PendingTx, db: Database) => void (settled.add(tx), tx.resolve(db));
    const reject = (tx: PendingTx, err: unknown) => void (settled.add(tx), tx.reject(err));
    try {
      const store = this.requireStore(this.dbStore);
      const done = await this.commitDurably(store, batch, reject);
      for (const d of done) resolve(d.tx, d.db);
      if (done.some((d) => d.committed) && this.dbRecords >= SNAPSHOT_EVERY) await this.compact(store);
    } catch (err) {
      for (const tx of batch) if (!settled.has(tx)) reject(tx, err);
    }
  }

  /** Computes, appends and (once synced) applies a batch; returns what each transaction made. */
  private async commitDurably(store: Store, batch: readonly PendingTx[], reject: (tx: PendingTx, err: unknown) => void) {
    // Under HA only the lock holder commits, and every record reaches the HA redo log on the
    // shared storage before the local log and before any answer (a write it cannot take fails).
    this.ha.assertCanCommit();
    const mirror = this.ha.governs() ? this.ha.redo : undefined;
    let db = this.db;
    const done: { tx: PendingTx; db: Database; changes: readonly DbChange[]; committed: boolean }[] = [];
    const appends: Promise<void>[] = [];
    const redos: DbRedoRecord[] = [];
    for (const tx of batch) {
      let changes: DbChange[];
      try {
        changes = tx.fn(db);
      } catch (err) {
        reject(tx, err);
        continue;
      }
      if (changes.length === 0 && !tx.force) {
        done.push({ tx, db, changes, committed: false });
        continue;
      }
      const next = commit(db, changes);
      redos.push(next.redo);
      db = next.db;
      done.push({ tx, db, changes, committed: true });
    }
    if (mirror && redos.length > 0) {
      try {
        await Promise.all(redos.map((r) => mirror.append(r)));
      } catch (err) {
        this.log.error({ msgId: 'POOL_HA_REDO_LOG_FAILED', err: String(err) }, `the HA redo log refused a write: ${String(err)}`);
        throw new CommandError('HA_REDO_LOG_UNAVAILABLE', [String(err)]);
      }
    }
    for (const r of redos) appends.push(store.append(r));
    // Nothing of this batch becomes visible unless all of it is durable; on an I/O error the store
    // refuses further writes and the caller rejects every transaction still waiting.
    await Promise.all(appends);
    const now = this.wallMs();
    // One append for the whole batch: the event buffer is immutable, so each append copies it.
    const events = done.filter((d) => d.committed).flatMap((d) => eventsFor(d.db, d.changes, d.db.generation, now));
    if (events.length > 0) this.events = appendEvents(this.events, events);
    this.db = db;
    this.dbRecords += appends.length;
    this.wake();
    return done;
  }

  /**
   * Folds the redo log into a snapshot. The batch that triggered it is already durable and
   * answered; a failed snapshot leaves the store fail-stop (later writes are refused with the
   * cause), so it is logged here rather than charged to callers whose changes are safe.
   */
  private async compact(store: Store): Promise<void> {
    try {
      await store.writeSnapshot(this.db);
      if (this.ha.redo) await this.ha.redo.writeSnapshot(this.db);
      this.dbRecords = 0;
    } catch (err) {
      this.log.error({ msgId: 'POOL_SNAPSHOT_FAILED', err }, 'could not write the pool database snapshot; the store accepts no more writes');
    }
  }

  /** Replaces the whole database with a copy from the master (durably, as a snapshot). */
  replaceDatabase(db: Database): Promise<void> {
    return this.serialize(async () => {
      await this.requireStore(this.dbStore).writeSnapshot(db);
      this.db = db;
      this.dbRecords = 0;
      this.events = emptyEvents(db.generation, EVENT_CAPACITY);
      this.wake();
    });
  }

  /**
   * Changes this host's local state. A step's records are appended as ONE frame (the store's unit
   * of atomicity) before the new state is used: a crash keeps all of a step or none of it, so no
   * host ever restarts having decided without becoming master, or similar half-steps.
   */
  changeLocal(fn: (s: LocalState) => LocalStep): Promise<LocalState> {
    return this.serialize(async () => {
      const step = fn(this.local);
      const store = this.requireStore(this.localStore);
      if (step.records.length > 0) await store.append(step.records);
      this.local = step.state;
      return this.local;
    });
  }

  private requireStore(s: Store | undefined): Store {
    if (!s || this.stopped) throw new CommandError('SHUTTING_DOWN', []);
    return s;
  }

  /** Starts or stops the master's and the slave's duties after the role changed (or at start). */
  async onRoleChanged(): Promise<void> {
    if (this.stopped) return;
    if (this.local.role.kind === 'master' && this.ha.governs() && !this.ha.iAmMaster()) {
      // Armed for HA but not (or no longer) holding the master lock, e.g. an old master restarted
      // after a failover: no master duties until the lock says who is master (PoolHa.follow).
      this.timers.stopAll();
      this.log.info({ msgId: 'POOL_HA_AWAIT_LOCK', host: this.me.name }, `pool host ${this.me.name} was master; waiting for the HA master lock before acting`);
    } else if (this.local.role.kind === 'master') {
      if (this.db.generation === 0) {
        const specs = this.cfg.hosts.map((h) => ({ name: h.name, address: h.address, memoryTotal: h.memory }));
        await this.transact(() => bootstrap(this.cfg.name, specs, this.me.name, this.wallMs()));
      }
      await this.transact((db) => setMaster(db, this.myRef, this.wallMs()));
      this.liveness = emptyLiveness();
      this.timers.becomeMaster();
    } else {
      this.sessions.clear();
      this.timers.becomeSlave();
    }
    this.wake();
    void this.management?.sync();
    this.announceRole();
  }

  /** Tells subscribers and the log this host's role and master (after any change of either). */
  announceRole(): void {
    this.handle.publish('pool-role', { host: this.me.name, role: this.local.role.kind, master: this.masterAddress() });
    this.log.info({ msgId: 'POOL_ROLE', host: this.me.name, role: this.local.role }, `pool host ${this.me.name} is ${this.local.role.kind === 'master' ? 'master' : `a slave of ${this.masterAddress()}`}`);
  }

  /** Calls a pool host over its control channel; its XenAPI error is rethrown as a CommandError. */
  async callHost(host: PoolHost, command: string, args: Record<string, unknown>, timeoutMs: number): Promise<unknown> {
    const answer = await this.handle.callPeer(this.peerOf(host), command, args, timeoutMs);
    const err = answerError(answer);
    if (err) throw err;
    return answer.arguments ?? '';
  }

  /**
   * Runs the host-side part of a call on `hostRef`: locally for this host; else HOST_OFFLINE if
   * the master knows it is not live, CANNOT_CONTACT_HOST if it cannot be reached within the bound.
   */
  async forward(hostRef: Ref, args: Record<string, unknown>, timeoutMs = this.cfg.forwardTimeoutMs): Promise<unknown> {
    if (hostRef === this.myRef) return executeLocal(this, args);
    const rec = this.db.tables.host[hostRef];
    const host = rec ? this.hostByAddress(rec.address) : undefined;
    if (!rec || !host) throw new CommandError('HANDLE_INVALID', ['host', hostRef]);
    if (!isLive(this.db, hostRef)) throw new CommandError('HOST_OFFLINE', [hostRef]);
    try {
      return await this.callHost(host, 'host.local_execute', args, timeoutMs);
    } catch (err) {
      if (err instanceof PeerUnreachableError) {
        this.log.warn({ msgId: 'POOL_CANNOT_CONTACT_HOST', host: host.name, reason: err.reason }, `cannot contact host ${host.name}: ${err.reason}`);
        throw new CommandError('CANNOT_CONTACT_HOST', [hostRef]);
      }
      throw err;
    }
  }

  hostRefByAddress(address: string): Ref | undefined {
    return hostByAddress(this.db, address)?.[0];
  }

  /** Resolves on the next database change or role change, or after `ms` (or at stop). */
  waitForChange(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        cancel();
        this.waiters.delete(done);
        resolve();
      };
      const cancel = this.later(ms, done, done);
      this.waiters.add(done);
    });
  }

  /**
   * Runs `fn` after `ms` unless the service stops first (then `onStop` runs instead); returns a
   * cancel function. One registry for the service's timers, so an unload leaves none behind.
   */
  later(ms: number, fn: () => void, onStop: () => void = () => undefined): () => void {
    if (this.stopped) {
      onStop();
      return () => undefined;
    }
    const entry = {
      timer: this.handle.clock.setTimer(ms, () => {
        this.timerSet.delete(entry);
        fn();
      }),
      cancelled: onStop,
    };
    this.timerSet.add(entry);
    return () => {
      entry.timer.cancel();
      this.timerSet.delete(entry);
    };
  }

  /** How many timers of this service are pending (for leak checks). */
  get pendingTimers(): number {
    return this.timerSet.size;
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Test-only pause point (testing: fault-injection): waits the configured delay once, so a test can kill here. */
  async faultPoint(point: string): Promise<void> {
    const delay = this.handle.faults ? this.faultPoints.get(point) : undefined;
    if (delay === undefined) return;
    this.faultPoints.delete(point);
    this.faultWaiting = point;
    this.log.warn({ msgId: 'POOL_FAULT_POINT', point, delay }, `pausing ${delay} ms at fault point ${point}`);
    await new Promise<void>((resolve) => this.later(delay, resolve, resolve));
    this.faultWaiting = undefined;
  }
}
