import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';
import type { TransportName } from '../core/commands/command.ts';
import { HA_STATES } from '../hook-libs/ha/machine/ha-state.ts';

/** What the metrics read from the running server at scrape time (cheap, no I/O except pool records on the master). */
export interface MetricsSources {
  /** status-get's arguments. */
  status(): Record<string, unknown>;
  /** Liveness by host name as this host sees it, when it is the pool master; undefined otherwise. */
  poolLiveness(): Promise<Record<string, boolean> | undefined>;
  webSockets(): number;
  subscriptions(): number;
}

// prom-client's index loads all of the package: default process metrics (and through them
// @opentelemetry/api), summaries, the push gateway and cluster aggregation, some 85 files that a
// server never uses and that cost about a fifth of its start-up and several MB of RSS. The four
// classes used here are required from their own files (prom-client has no exports map; the
// version is pinned in package.json, so these paths cannot move under us unnoticed: the server
// would not start).
const requireLib = createRequire(import.meta.url);
const client = {
  Registry: requireLib('prom-client/lib/registry') as typeof PromClient.Registry,
  Counter: requireLib('prom-client/lib/counter') as typeof PromClient.Counter,
  Gauge: requireLib('prom-client/lib/gauge') as typeof PromClient.Gauge,
  Histogram: requireLib('prom-client/lib/histogram') as typeof PromClient.Histogram,
};

/** Peer commands that are heartbeats: the pair's and the pool's. */
const HEARTBEAT_COMMANDS = new Set(['ha-heartbeat', 'host.tickle_heartbeat']);

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const FSYNC_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
const GROUP_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

/**
 * One Prometheus registry per server (never prom-client's global one: tests run several servers in
 * one process). Counters and histograms are fed by the shell as things happen; gauges of state are
 * read from status-get when scraped, so the libraries need no metrics code of their own.
 */
export class ServerMetrics {
  readonly registry = new client.Registry();
  private readonly commands: PromClient.Counter<'command' | 'transport' | 'result'>;
  private readonly latency: PromClient.Histogram<'transport'>;
  private readonly heartbeats: PromClient.Counter<'peer' | 'command' | 'outcome'>;
  private readonly heartbeatRtt: PromClient.Histogram<'peer' | 'command'>;
  private readonly transitions: PromClient.Counter<'to'>;
  private readonly partnerDown: PromClient.Counter;
  private readonly masterChanges: PromClient.Counter;
  private readonly fsync: PromClient.Histogram<'store'>;
  private readonly groupSize: PromClient.Histogram<'store'>;
  private lastMaster: string | undefined;
  /**
   * Commands handled since the last scrape, by their labels joined with newlines; added to
   * `commands` when it is collected. prom-client hashes and checks the label set on every inc()
   * (a few per cent of a pool master's CPU at a thousand heartbeats a second); a Map entry per
   * label set is cheaper, and a scrape still sees every command.
   */
  private readonly counted = new Map<string, number>();

  constructor(sources: MetricsSources) {
    const r = this.registry;
    this.commands = new client.Counter({
      name: 'liveset_commands_total', help: 'Commands handled, by command name, wire format and Kea result code.',
      labelNames: ['command', 'transport', 'result'], registers: [r],
      collect: () => this.foldCommands(),
    });
    this.latency = new client.Histogram({
      name: 'liveset_command_duration_seconds', help: 'Time from dispatch to answer, by wire format.',
      labelNames: ['transport'], buckets: LATENCY_BUCKETS, registers: [r],
    });
    this.heartbeats = new client.Counter({
      name: 'liveset_heartbeats_total', help: 'Heartbeats sent to peers, by outcome (ok: answered; failed: unreachable or timed out).',
      labelNames: ['peer', 'command', 'outcome'], registers: [r],
    });
    this.heartbeatRtt = new client.Histogram({
      name: 'liveset_heartbeat_rtt_seconds', help: 'Round-trip time of answered heartbeats.',
      labelNames: ['peer', 'command'], buckets: LATENCY_BUCKETS, registers: [r],
    });
    this.transitions = new client.Counter({
      name: 'liveset_ha_transitions_total', help: 'HA state transitions of this server, by the state entered.',
      labelNames: ['to'], registers: [r],
    });
    this.partnerDown = new client.Counter({
      name: 'liveset_ha_partner_down_transitions_total', help: 'Transitions of this server into partner-down.', registers: [r],
    });
    this.masterChanges = new client.Counter({
      name: 'liveset_pool_master_changes_total', help: 'Changes of the pool master this host has seen since it started.', registers: [r],
    });
    this.fsync = new client.Histogram({
      name: 'liveset_redo_log_fsync_seconds', help: 'Duration of each redo-log sync, by store.',
      labelNames: ['store'], buckets: FSYNC_BUCKETS, registers: [r],
    });
    this.groupSize = new client.Histogram({
      name: 'liveset_redo_log_group_size', help: 'Records made durable by one redo-log sync (group commit), by store.',
      labelNames: ['store'], buckets: GROUP_BUCKETS, registers: [r],
    });
    new client.Gauge({
      name: 'liveset_ha_state', help: '1 for the HA state this server is in, 0 for the others.',
      labelNames: ['state'], registers: [r],
      collect() {
        const current = haLocal(sources.status())?.['state'];
        this.reset();
        if (current === undefined) return;
        for (const s of HA_STATES) this.set({ state: s }, s === current ? 1 : 0);
      },
    });
    new client.Gauge({
      name: 'liveset_ha_paused', help: '1 while the HA state machine is paused.', registers: [r],
      collect() {
        const local = haLocal(sources.status());
        this.reset();
        if (local !== undefined) this.set(local['paused'] === true ? 1 : 0);
      },
    });
    new client.Gauge({
      name: 'liveset_pool_host_live', help: 'Liveness of each pool host as the master sees it (reported by the master only).',
      labelNames: ['host'], registers: [r],
      async collect() {
        const live = await sources.poolLiveness().catch(() => undefined);
        this.reset();
        for (const [host, up] of Object.entries(live ?? {})) this.set({ host }, up ? 1 : 0);
      },
    });
    new client.Gauge({
      name: 'liveset_pool_is_master', help: '1 when this host acts as the pool master.', registers: [r],
      collect() {
        const pool = sources.status()['pool'] as Record<string, unknown> | undefined;
        this.reset();
        if (pool !== undefined) this.set(pool['role'] === 'master' ? 1 : 0);
      },
    });
    new client.Gauge({
      name: 'liveset_websocket_connections', help: 'Open WebSocket connections on /ws.', registers: [r],
      collect() {
        this.set(sources.webSockets());
      },
    });
    new client.Gauge({
      name: 'liveset_event_subscriptions', help: 'WebSocket connections subscribed to at least one event.', registers: [r],
      collect() {
        this.set(sources.subscriptions());
      },
    });
  }

  /** Records one dispatched command; `command` must already be a registered name (or 'unknown'), so labels stay bounded. */
  commandDone(command: string, transport: TransportName, result: number, seconds: number): void {
    const key = `${command}\n${transport}\n${result}`;
    this.counted.set(key, (this.counted.get(key) ?? 0) + 1);
    this.latency.observe({ transport }, seconds);
  }

  private foldCommands(): void {
    for (const [key, n] of this.counted) {
      const [command, transport, result] = key.split('\n') as [string, string, string];
      this.commands.inc({ command, transport, result }, n);
    }
    this.counted.clear();
  }

  /** Records one call to a peer; only heartbeats are counted. */
  peerCallDone(peer: string, command: string, answered: boolean, seconds: number): void {
    if (!HEARTBEAT_COMMANDS.has(command)) return;
    this.heartbeats.inc({ peer, command, outcome: answered ? 'ok' : 'failed' });
    if (answered) this.heartbeatRtt.observe({ peer, command }, seconds);
  }

  storeSynced(store: string, records: number, seconds: number): void {
    this.fsync.observe({ store }, seconds);
    this.groupSize.observe({ store }, records);
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every event a library publishes (the server calls this beside the event bus). */
  onEvent(event: string, params: unknown): void {
    const p = (params ?? {}) as Record<string, unknown>;
    if (event === 'ha-state-transition' && typeof p['new-state'] === 'string') {
      this.transitions.inc({ to: p['new-state'] });
      if (p['new-state'] === 'partner-down') this.partnerDown.inc();
    } else if (event === 'pool-role' && typeof p['master'] === 'string') {
      if (this.lastMaster !== undefined && this.lastMaster !== p['master']) this.masterChanges.inc();
      this.lastMaster = p['master'];
    }
  }
}

function haLocal(status: Record<string, unknown>): Record<string, unknown> | undefined {
  const ha = status['high-availability'];
  if (!Array.isArray(ha)) return undefined;
  const servers = (ha[0] as Record<string, unknown> | undefined)?.['ha-servers'] as Record<string, unknown> | undefined;
  return servers?.['local'] as Record<string, unknown> | undefined;
}
