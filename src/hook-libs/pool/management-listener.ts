import type { Timer } from '../../core/clock.ts';
import type { PoolService } from './pool-service.ts';

/** How often the holder checks that it should still hold the address (the HA lock is leased). */
const CHECK_MS = 200;

/**
 * The floating management address (`management-url`): served by the host acting as master and by
 * no other. It follows `acting()`, which under HA is the master lock within its lease, so a master
 * that loses the lock lets the address go within one check even before it is fenced; a host that
 * becomes master takes it as soon as the previous holder has let go (until then the bind fails
 * with EADDRINUSE on a shared machine, and is retried). Clients pointed at it — the xen-api client
 * among them — reach whichever host is master without knowing the pool's hosts.
 */
export class ManagementListener {
  private listener: { close(): Promise<void> } | undefined;
  private queue: Promise<void> = Promise.resolve();
  private timer: Timer | undefined;
  private busyLogged = false;
  private stopped = false;

  constructor(
    private readonly svc: PoolService,
    readonly url: string,
  ) {}

  /** True while this host serves the address. */
  get held(): boolean {
    return this.listener !== undefined;
  }

  start(): void {
    this.schedule(0);
  }

  /** Takes or lets go of the address to match the role now (also called on every role change). */
  sync(): Promise<void> {
    this.queue = this.queue.then(() => this.reconcile());
    return this.queue;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    await this.sync();
  }

  private schedule(ms: number): void {
    this.timer = this.svc.handle.clock.setTimer(ms, () => {
      void this.sync().finally(() => {
        if (!this.stopped) this.schedule(CHECK_MS);
      });
    });
  }

  private async reconcile(): Promise<void> {
    const open = this.svc.handle.openListener;
    const want = !this.stopped && open !== undefined && this.svc.acting() === 'master';
    if (want && this.listener === undefined) {
      try {
        this.listener = await open(this.url);
      } catch (err) {
        if (!this.busyLogged) {
          this.svc.log.warn({ msgId: 'POOL_MANAGEMENT_ADDRESS_BUSY', url: this.url, err: (err as Error).message }, `cannot take the management address ${this.url} yet (${(err as Error).message}); retrying every ${CHECK_MS} ms`);
          this.busyLogged = true;
        }
        return;
      }
      this.busyLogged = false;
      this.svc.log.info({ msgId: 'POOL_MANAGEMENT_ADDRESS_TAKEN', url: this.url }, `serving the management address ${this.url} as master`);
    } else if (!want && this.listener !== undefined) {
      const l = this.listener;
      this.listener = undefined;
      await l.close();
      this.svc.log.info({ msgId: 'POOL_MANAGEMENT_ADDRESS_RELEASED', url: this.url }, `let go of the management address ${this.url}`);
    }
  }
}
