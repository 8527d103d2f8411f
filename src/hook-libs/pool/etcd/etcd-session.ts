import type { Etcd3, Lease, Watcher } from 'etcd3';
import type { Logger } from 'pino';
import { LeaseGuard, type LeaseState } from './lease-guard.ts';
import { describeEtcdError, openEtcd, type EtcdConnectionOptions } from './etcd-connection.ts';

/** First retry of re-creating cancelled watches; doubles up to 4 s while etcd keeps refusing. */
const REWATCH_FIRST_DELAY_MS = 250;

/** What a host announces about itself under its lease. */
export interface EtcdHostInfo {
  uuid: string;
  address: string;
  /** The HA enable generation the host joined under (hosts of another generation are ignored). */
  generation?: string;
}

/** `<prefix>/state`: the pool-wide HA state (xhad keeps it in the statefile header). */
export interface EtcdPoolState {
  state: 'init' | 'active' | 'invalid';
  generation: string;
  /** With `invalid`: the host that disabled HA (the pool master the others should follow). */
  master?: string;
}

/** The election key that currently wins, and the revision that fences its holder's writes. */
export interface MasterLock {
  uuid: string;
  key: string;
  createRevision: string;
}

export interface EtcdSessionOptions {
  connection: EtcdConnectionOptions;
  ttlSeconds: number;
  self: EtcdHostInfo;
  /** Whether this host campaigns for master (every HA host does, unless HA is disarmed locally). */
  contender: boolean;
  /** Monotonic milliseconds; the shell passes performance.now. */
  now: () => number;
  log: Logger;
  /** Called after any change of liveset, master lock or lease state (coalesced, never re-entrant). */
  onChange: () => void;
  /**
   * etcd answered that this host's lease no longer exists (it expired or was revoked) — so etcd was
   * reachable and the others have treated this host as gone. Called before a new lease is taken.
   */
  onLeaseExpired?: (reason: string) => void;
}

/**
 * One host's presence in etcd: a lease it keeps alive itself, a liveness key under that lease, and
 * (for a contender) a campaign key under the same lease. etcd's election recipe picks the master:
 * the campaign key with the lowest create revision wins, and that revision is the fencing token every
 * pool-database write of the master carries (see EtcdStore). The liveset and the master are read
 * from watches, never by polling.
 *
 * Keepalives are sent here, not by etcd3's automatic loop, so that the send time of the last
 * successful one is known: LeaseGuard turns it into a safe window, and the session declares the lease
 * lost when that window closes even if no etcd event ever arrives (partitioned from the majority).
 */
export class EtcdSession {
  private client: Etcd3 | undefined;
  private lease: Lease | undefined;
  private leaseId: string | undefined;
  private readonly guard: LeaseGuard;
  private watchers: Watcher[] = [];
  /** The loop re-creating cancelled watches, while it runs (rewatchUntilWhole). */
  private rewatching: Promise<void> | undefined;
  private rewatchTimer: NodeJS.Timeout | undefined;
  private hosts = new Map<string, EtcdHostInfo>();
  private master: MasterLock | undefined;
  private myCampaignKey: string | undefined;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private reachable = false;
  private lastError: string | undefined;
  private resyncing: Promise<void> | undefined;
  private resyncAgain = false;
  private establishing: Promise<void> | undefined;
  private lastState: LeaseState = 'none';
  private pool: EtcdPoolState | undefined;
  private lastOkAt: number | undefined;
  private failures: number[] = [];
  private cut = false;
  private droppingKey: Promise<void> | undefined;
  private paused = false;
  private resyncPending = false;
  private leaseInvalid: (new (...args: never[]) => Error) | undefined;

  constructor(private readonly opts: EtcdSessionOptions) {
    this.guard = new LeaseGuard({ ttlMs: opts.ttlSeconds * 1000 });
  }

  get prefix(): string {
    return this.opts.connection.prefix.replace(/\/+$/, '');
  }
  private get hostsPrefix(): string {
    return `${this.prefix}/hosts/`;
  }
  private get electionPrefix(): string {
    return `${this.prefix}/election/`;
  }
  get stateKey(): string {
    return `${this.prefix}/state`;
  }

  /** Connects, takes a lease, announces the host and starts the watches; throws (etcd's own error) if that fails. */
  async start(): Promise<void> {
    this.client = await openEtcd(this.opts.connection);
    this.leaseInvalid = (await import('etcd3')).EtcdLeaseInvalidError;
    try {
      await this.establish();
      await this.startWatches();
      await this.resync();
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.scheduleKeepalive();
  }

  etcd(): Etcd3 {
    if (this.client === undefined) throw new Error('etcd session not started');
    return this.client;
  }

  /** Hosts whose liveness key exists, as last seen through the watch. */
  liveSet(): ReadonlyMap<string, EtcdHostInfo> {
    return this.hosts;
  }

  masterLock(): MasterLock | undefined {
    return this.master;
  }

  leaseState(): LeaseState {
    return this.guard.state(this.opts.now());
  }

  /** The pool-wide HA state key, as last read. */
  poolState(): EtcdPoolState | undefined {
    return this.pool;
  }

  /** Completion time (own clock) of the last etcd call that succeeded. */
  lastSuccessAt(): number | undefined {
    return this.lastOkAt;
  }

  /** Send times of failed etcd attempts since the last success (bounded). */
  failuresSinceSuccess(): readonly number[] {
    return this.failures;
  }

  isCampaigning(): boolean {
    return this.myCampaignKey !== undefined;
  }

  /** This host's campaign key, if it campaigns. */
  campaignKey(): string | undefined {
    return this.myCampaignKey;
  }

  /** Testing fault: every etcd call of this host fails as if etcd were unreachable. */
  setCut(cut: boolean): void {
    this.cut = cut;
    if (!cut) this.requestResync();
  }

  /** Testing fault (a frozen host): no keepalive is sent, as from a process that hangs. */
  setPaused(paused: boolean): void {
    this.paused = paused;
  }

  /** Writes the pool-wide HA state (init / active / invalid). */
  async setPoolState(state: EtcdPoolState): Promise<void> {
    this.assertNotCut();
    await this.etcd().put(this.stateKey).value(JSON.stringify(state)).exec();
    await this.resync();
  }

  /** True while the last etcd call or keepalive succeeded. */
  isReachable(): boolean {
    return this.reachable;
  }

  lastErrorText(): string | undefined {
    return this.lastError;
  }

  /** This host holds the master lock and its lease is inside its safe window: it may act as master. */
  holdsMasterLock(): boolean {
    return this.master !== undefined && this.master.key === this.myCampaignKey && this.leaseState() === 'held';
  }

  /** The fencing token for this host's master writes, or undefined when it must not write. */
  fencingToken(): MasterLock | undefined {
    return this.holdsMasterLock() && !this.cut ? this.master : undefined;
  }

  private assertNotCut(): void {
    if (this.cut) throw new Error('etcd cut off (testing fault)');
  }

  /** Gives up the master lock (clean shutdown or handover); the lease and liveness key stay. */
  async resign(): Promise<void> {
    const key = this.myCampaignKey;
    this.opts.contender = false;
    this.myCampaignKey = undefined;
    if (key !== undefined) this.opts.log.info({ msgId: 'POOL_ETCD_RESIGN', key }, `withdrawing from the master-lock election (${key})`);
    if (key !== undefined && this.client !== undefined && !this.cut) await this.client.delete().key(key).exec();
    await this.resync();
  }

  /**
   * The election's first key names this host but is not the key it campaigns with: a resign whose
   * delete never reached etcd (seen: etcd lost its majority just as the host withdrew in favour of
   * a new master). Its lease is alive, so the key would stay first for good: everybody follows this
   * host, which does not act because it withdrew, and the pool has no master. It is deleted again.
   */
  private dropStaleCampaignKey(key: string): void {
    if (this.droppingKey !== undefined || this.cut || this.stopped) return;
    this.opts.log.warn({ msgId: 'POOL_ETCD_STALE_CAMPAIGN_KEY', key }, `the master lock in etcd is held by this host's withdrawn campaign key ${key}; deleting it again`);
    this.droppingKey = (async () => {
      try {
        await this.etcd().delete().key(key).exec();
      } catch (err) {
        this.markUnreachable(err as Error);
      } finally {
        this.droppingKey = undefined;
      }
      this.requestResync();
    })();
  }

  /** Campaigns (again): puts this host's campaign key under its lease; the lowest revision wins. */
  async campaign(): Promise<void> {
    this.assertNotCut();
    this.opts.contender = true;
    // A stale key's delete still in flight would remove the key this puts (same lease, same name).
    await this.droppingKey;
    if (this.leaseId !== undefined) await this.putCampaignKey(this.leaseId);
    await this.resync();
  }

  /** Revokes the lease (the host leaves the liveset at once) and closes the client. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.keepaliveTimer);
    clearTimeout(this.expiryTimer);
    clearTimeout(this.rewatchTimer);
    await Promise.allSettled(this.watchers.map((w) => w.cancel()));
    this.watchers = [];
    if (this.lease !== undefined) await this.lease.revoke().catch(() => {});
    this.client?.close();
    this.client = undefined;
  }

  /** Grants a fresh lease and writes the host's keys under it. */
  private async establish(): Promise<void> {
    this.assertNotCut();
    const client = this.etcd();
    this.guard.reset();
    const sentAt = this.opts.now();
    const lease = client.lease(this.opts.ttlSeconds, { autoKeepAlive: false });
    lease.on('lost', () => {});
    const id = await lease.grant();
    this.guard.succeeded(sentAt, this.opts.ttlSeconds);
    this.lease = lease;
    this.leaseId = id;
    await client.put(`${this.hostsPrefix}${this.opts.self.uuid}`).value(JSON.stringify(this.opts.self)).lease(id).exec();
    if (this.opts.contender) await this.putCampaignKey(id);
    else this.myCampaignKey = undefined;
    this.markReachable();
    this.succeededNow();
    this.opts.log.info({ msgId: 'POOL_ETCD_LEASE_GRANTED', lease: id, ttl: this.opts.ttlSeconds }, 'etcd lease granted; host announced');
    this.armExpiry();
  }

  private async putCampaignKey(leaseId: string): Promise<void> {
    const client = this.etcd();
    const key = `${this.electionPrefix}${BigInt(leaseId).toString(16)}`;
    // Known as ours before etcd has it, so a read that sees it first never takes it for a stale one.
    this.myCampaignKey = key;
    await client
      .if(key, 'Create', '==', 0)
      .then(client.put(key).value(this.opts.self.uuid).lease(leaseId))
      .commit();
    this.opts.log.info({ msgId: 'POOL_ETCD_CAMPAIGN', key }, `campaigning for the master lock as ${key}`);
  }

  /** The liveset, the election and the pool state: each watched (a prefix, or the state key). */
  private watchedKeys(): string[] {
    return [this.hostsPrefix, this.electionPrefix, this.stateKey];
  }

  private async startWatches(): Promise<void> {
    const client = this.etcd();
    for (const prefix of this.watchedKeys()) {
      const w = prefix === this.stateKey ? await client.watch().key(prefix).create() : await client.watch().prefix(prefix).create();
      w.on('put', () => this.requestResync());
      w.on('delete', () => this.requestResync());
      // After a reconnect the stream resumes, but what happened meanwhile is read whole again.
      w.on('connected', () => this.requestResync());
      w.on('disconnected', (err) => this.markUnreachable(err));
      w.on('error', (err) => this.watchCanceled(w, err));
      this.watchers.push(w);
    }
  }

  /**
   * etcd ended a watch for good — seen: a restarted member no longer knows the auth token and cancels
   * the watches re-attached to it. etcd3 reports that once and forgets the watcher, so without this
   * the liveset, the election and the pool state would go stale (a disable never seen, a host that
   * never disarms). Every watch is re-created on a fresh stream, then everything is read whole.
   */
  private watchCanceled(w: Watcher, err: Error): void {
    // Gone from etcd3's side: cancelling it later would wait for an answer that never comes.
    this.watchers = this.watchers.filter((x) => x !== w);
    this.markUnreachable(err);
    this.scheduleRewatch();
  }

  private scheduleRewatch(): void {
    if (this.stopped || this.rewatching !== undefined) return;
    this.rewatching = this.rewatchUntilWhole().finally(() => (this.rewatching = undefined));
  }

  /**
   * Re-creates every watch, backing off from 250 ms to 4 s while etcd refuses, until all of them
   * stand (a watch cancelled while the others were being created makes one more round).
   */
  private async rewatchUntilWhole(): Promise<void> {
    for (let delayMs = REWATCH_FIRST_DELAY_MS; ; delayMs = Math.min(delayMs * 2, 4000)) {
      await new Promise((r) => (this.rewatchTimer = setTimeout(r, delayMs)));
      if (this.stopped) return;
      try {
        // Cancelling the survivors empties etcd3's watch stream, so the new watches get a new stream,
        // opened with the client's current credentials and maybe on another member.
        const survivors = this.watchers;
        this.watchers = [];
        await Promise.race([Promise.allSettled(survivors.map((w) => w.cancel())), new Promise((r) => setTimeout(r, 2000).unref())]);
        if (this.stopped) return;
        await this.startWatches();
      } catch (err) {
        this.markUnreachable(err as Error);
        continue;
      }
      if (this.watchers.length === this.watchedKeys().length) {
        this.opts.log.info({ msgId: 'POOL_ETCD_WATCH_RESTORED' }, 'etcd watches re-created after etcd cancelled one');
        this.requestResync();
        return;
      }
    }
  }

  private requestResync(): void {
    if (this.stopped || this.cut) return;
    void this.resync().catch((err) => this.markUnreachable(err as Error));
  }

  /** Reads the liveset and the election whole; concurrent requests collapse into one more read. */
  private async resync(): Promise<void> {
    if (this.resyncing !== undefined) {
      this.resyncAgain = true;
      return this.resyncing;
    }
    this.resyncing = (async () => {
      do {
        this.resyncAgain = false;
        this.assertNotCut();
        const client = this.etcd();
        // One transaction, so the liveset, the election and the pool state come from one revision:
        // a view in which the disabling master's key is gone always also shows HA disabled.
        const txn = await client
          .if(this.stateKey, 'Version', '>', -1)
          .then(
            client.getAll().prefix(this.hostsPrefix),
            client.getAll().prefix(this.electionPrefix).sort('Create', 'Ascend').limit(1),
            client.get(this.stateKey),
          )
          .commit();
        const ranges = txn.responses.map((r) => r.response_range?.kvs ?? []);
        const hosts = { kvs: ranges[0] ?? [] };
        const election = { kvs: ranges[1] ?? [] };
        const state = ranges[2]?.[0]?.value.toString() ?? null;
        let pool: EtcdPoolState | undefined;
        try {
          pool = state === null ? undefined : (JSON.parse(state) as EtcdPoolState);
        } catch {
          pool = undefined;
        }
        const next = new Map<string, EtcdHostInfo>();
        for (const kv of hosts.kvs) {
          try {
            const info = JSON.parse(kv.value.toString()) as EtcdHostInfo;
            next.set(info.uuid, info);
          } catch {
            // a foreign key under our prefix is not a host
          }
        }
        const first = election.kvs[0];
        const master: MasterLock | undefined =
          first === undefined ? undefined : { uuid: first.value.toString(), key: first.key.toString(), createRevision: String(first.create_revision) };
        this.markReachable();
        this.succeededNow();
        const changed =
          !sameHosts(this.hosts, next) || this.master?.key !== master?.key || JSON.stringify(pool) !== JSON.stringify(this.pool);
        if (this.master?.key !== master?.key) {
          this.opts.log.info(
            { msgId: 'POOL_ETCD_LOCK', holder: master?.uuid ?? null, key: master?.key ?? null, revision: master?.createRevision ?? null, mine: master !== undefined && master.key === this.myCampaignKey },
            master === undefined ? 'nobody holds the master lock in etcd' : `the master lock in etcd is held by ${master.uuid} (${master.key}, revision ${master.createRevision})`,
          );
        }
        this.hosts = next;
        this.master = master;
        this.pool = pool;
        if (master !== undefined && master.uuid === this.opts.self.uuid && master.key !== this.myCampaignKey) {
          this.dropStaleCampaignKey(master.key);
        }
        if (changed) this.opts.onChange();
      } while (this.resyncAgain && !this.stopped);
    })().finally(() => {
      this.resyncing = undefined;
    });
    return this.resyncing;
  }

  /** Every TTL/3 while etcd answers; every 250 ms at most while it does not, to notice its return early. */
  private scheduleKeepalive(): void {
    if (this.stopped) return;
    const every = this.failures.length > 0 ? Math.min(this.guard.keepaliveIntervalMs(), 250) : this.guard.keepaliveIntervalMs();
    this.keepaliveTimer = setTimeout(() => void this.keepalive(), every);
  }

  private async keepalive(): Promise<void> {
    if (this.stopped) return;
    if (this.paused) {
      this.scheduleKeepalive();
      return;
    }
    const attemptAt = this.opts.now();
    try {
      this.assertNotCut();
      if (this.establishing !== undefined) {
        await this.establishing;
      } else if (this.leaseState() !== 'held' && this.lease !== undefined && this.guard.safeUntil() === undefined) {
        await this.reestablish();
      } else {
        const sentAt = this.opts.now();
        const res = await this.lease!.keepaliveOnce({ deadline: Date.now() + this.guard.keepaliveIntervalMs() });
        const ttl = Number(res.TTL);
        if (ttl <= 0) {
          this.guard.lost();
          this.noteState('etcd says the lease expired');
          this.opts.onLeaseExpired?.('etcd says the lease expired');
          await this.reestablish();
        } else {
          this.guard.succeeded(sentAt, ttl);
          this.markReachable();
          this.succeededNow();
          this.armExpiry();
          this.noteState();
          if (this.resyncPending) {
            this.resyncPending = false;
            this.requestResync();
          }
        }
      }
    } catch (err) {
      const e = err as Error;
      this.failures.push(attemptAt);
      if (this.failures.length > 64) this.failures.splice(0, this.failures.length - 64);
      if (this.leaseInvalid !== undefined && e instanceof this.leaseInvalid) {
        this.guard.lost();
        this.noteState('etcd says the lease no longer exists');
        this.opts.onLeaseExpired?.('etcd says the lease no longer exists');
        await this.reestablish().catch((e2) => this.markUnreachable(e2 as Error));
      } else {
        this.markUnreachable(e);
      }
    } finally {
      this.scheduleKeepalive();
    }
  }

  private async reestablish(): Promise<void> {
    if (this.establishing !== undefined) return this.establishing;
    this.establishing = (async () => {
      const old = this.lease;
      old?.revoke().catch(() => {});
      await this.establish();
      await this.resync();
      this.noteState();
    })().finally(() => {
      this.establishing = undefined;
    });
    return this.establishing;
  }

  /** Fires when the safe window closes, so stepping down never waits for a slow call to fail. */
  private armExpiry(): void {
    clearTimeout(this.expiryTimer);
    const until = this.guard.safeUntil();
    if (until === undefined || this.stopped) return;
    this.expiryTimer = setTimeout(() => this.noteState('no keepalive succeeded within the lease TTL minus the safety margin'), Math.max(0, until - this.opts.now()) + 1);
  }

  private noteState(reason?: string): void {
    const state = this.leaseState();
    if (state === this.lastState) return;
    const previous = this.lastState;
    this.lastState = state;
    if (state === 'lost' && previous === 'held') {
      this.opts.log.warn(
        { msgId: 'POOL_ETCD_LEASE_LOST', reason: reason ?? 'lease lost', lastError: this.lastError },
        `etcd lease lost: ${reason ?? 'lease lost'}; this host stops acting on it`,
      );
    }
    this.opts.onChange();
  }

  private succeededNow(): void {
    this.lastOkAt = this.opts.now();
    this.failures = [];
  }

  private markReachable(): void {
    if (!this.reachable) {
      this.reachable = true;
      this.lastError = undefined;
      if (this.client !== undefined && this.lastState !== 'none') this.opts.onChange();
    }
  }

  private markUnreachable(err: Error): void {
    // A TLS or authentication failure says which setting to look at (status etcd_error, the log).
    const text = describeEtcdError(err, this.opts.connection);
    const was = this.reachable;
    if (this.reachable || this.lastError !== text) {
      this.opts.log.warn({ msgId: 'POOL_ETCD_UNREACHABLE', err: text }, `etcd call failed: ${text}`);
    }
    this.reachable = false;
    if (was) this.opts.onChange();
    this.lastError = text;
    // What changed while etcd was away is read whole once a keepalive succeeds again.
    this.resyncPending = true;
    this.noteState();
  }
}

function sameHosts(a: ReadonlyMap<string, EtcdHostInfo>, b: ReadonlyMap<string, EtcdHostInfo>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (w === undefined || w.address !== v.address) return false;
  }
  return true;
}
