import type { Timer } from '../../core/clock.ts';
import type { CalloutStatus, LibraryHandle, PeerAddress } from '../../core/hooks/hook-library.ts';
import type { HaConfig, PeerConfig } from './ha-config.ts';
import { failoverPeer, heartbeatTimeoutMs } from './ha-config.ts';
import { startModel, step } from './machine/ha-machine.ts';
import type { HaInput } from './machine/ha-input.ts';
import type { HaModel } from './machine/ha-model.ts';
import { nextWakeAt } from './machine/ha-model.ts';
import type { HaOutput } from './machine/ha-output.ts';
import { runNotifyScript } from './notify-script.ts';
import { sendHeartbeat, type HeartbeatResult } from './partner/heartbeat-client.ts';
import type { Witness } from './partner/witness-client.ts';
import { livesetWitness } from './partner/witness-client.ts';
import type { FailureEvidence } from './machine/witness.ts';
import { inPlaceChanges } from './ha-reconfigure.ts';

/** Kea's origin id of a partner-requested disable, sent with ha-sync-complete-notify. */
const REMOTE_ORIGIN_ID = 2000;
/** Kea's peer request timeout. */
const PEER_TIMEOUT_MS = 10_000;
/** At most one WARN per this long while heartbeats keep failing (see logHeartbeatFailure). */
const HEARTBEAT_WARN_EVERY_MS = 10_000;

/**
 * The human-readable text of a transition, as Kea logs HA_STATE_TRANSITION
 * (`src/hooks/dhcp/high_availability/ha_service.cc` verboseTransition; the `server1: ` prefix is
 * Kea 2.6's ha_messages.mes, 2.2 has the rest): labels in upper case, and the partner state as
 * Kea's StateModel::getStateLabel gives it, `UNDEFINED` for "never heard of" and for `unavailable`
 * (not a defined state in Kea's model). In passive-backup there is no partner part
 * (HA_STATE_TRANSITION_PASSIVE_BACKUP). The structured fields keep the wire spellings.
 */
export function transitionText(cfg: HaConfig, from: string | null, to: string, partnerState: string | null): string {
  const up = (s: string | null) => (s === null || s === '' || s === 'unavailable' ? 'UNDEFINED' : s.toUpperCase());
  const head = `${cfg.thisServerName}: server transitions from ${up(from)} to ${up(to)} state`;
  return cfg.mode === 'passive-backup' ? head : `${head}, partner state is ${up(partnerState)}`;
}

export interface SyncOutcome {
  readonly ok: boolean;
  readonly reason?: string;
  readonly partnerUnavailable?: boolean;
}

export const peerAddress = (p: PeerConfig): PeerAddress => ({ name: p.name, url: p.url, ...(p.basicAuth ? { auth: p.basicAuth } : {}), ...(p.tls ? { tls: p.tls } : {}) });

/**
 * The imperative shell around the pure machine: owns the model, arms one timer at the machine's
 * next deadline, performs outputs (heartbeats, syncs, logs, transition events) and feeds their
 * results back as inputs. Time comes only from handle.clock.
 */
export class HaService {
  private model: HaModel | undefined;
  private timer: Timer | undefined;
  private stopped = false;
  private callouts: Promise<void> = Promise.resolve();
  private readonly witnesses: readonly Witness[];
  /** Notify scripts still running, each with the function that kills it. */
  private readonly scripts = new Set<() => void>();
  /** Heartbeats failed in a row, and when the last WARN about them was logged. */
  private heartbeatFailures = 0;
  private heartbeatWarnedAt = -Infinity;

  constructor(
    readonly handle: LibraryHandle,
    private config: HaConfig,
  ) {
    this.witnesses = (config.witness?.members ?? []).map((w) => livesetWitness(handle, w));
  }

  /** The configuration the machine steps with (replaced by reconfigure). */
  get cfg(): HaConfig {
    return this.config;
  }

  /**
   * Takes new settings without a restart when the relationship is the same (ha-reconfigure.ts):
   * the machine keeps its state and reads the new values from its next step on. Deadlines already
   * set (the next heartbeat, the partner's timeout) stay as they were computed; the ones after
   * them follow the new timers. False when the library must restart instead.
   */
  reconfigure(next: HaConfig): boolean {
    const changed = inPlaceChanges(this.config, next);
    if (changed === undefined) return false;
    this.config = next;
    this.handle.logger.info({ msgId: 'HA_RECONFIGURED', server: next.thisServerName, changed }, `HA settings changed in place: ${changed.join(', ') || 'none'}; state kept`);
    this.apply({ type: 'tick', at: this.now() });
    return true;
  }

  /** The current model (after start()). */
  get current(): HaModel {
    if (this.model === undefined) throw new Error('HA service not started');
    return this.model;
  }

  now(): number {
    return this.handle.clock.monotonicMs();
  }

  wallMs(): number {
    return this.handle.clock.wallMs();
  }

  start(): void {
    const r = startModel(this.cfg, this.now());
    this.model = r.model;
    this.handle.logger.info({ msgId: 'HA_SERVICE_STARTED', server: this.cfg.thisServerName, mode: this.cfg.mode }, 'HA service started');
    this.perform(r.outputs);
    this.rearm();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    for (const kill of this.scripts) kill();
    this.scripts.clear();
    this.handle.logger.info({ msgId: 'HA_SERVICE_STOPPED' }, 'HA service stopped');
  }

  /** Feeds one input to the machine and performs what it asks for. */
  apply(input: HaInput): HaModel {
    if (this.stopped || this.model === undefined) return this.current;
    const r = step(this.model, input, this.cfg);
    this.model = r.model;
    this.perform(r.outputs);
    this.rearm();
    return r.model;
  }

  private rearm(): void {
    this.timer?.cancel();
    this.timer = undefined;
    if (this.stopped || this.model === undefined) return;
    const at = nextWakeAt(this.model);
    if (at === null) return;
    this.timer = this.handle.clock.setTimer(Math.max(0, at - this.now()), () => {
      this.timer = undefined;
      this.apply({ type: 'tick', at: this.now() });
    });
  }

  private perform(outputs: readonly HaOutput[]): void {
    for (const o of outputs) {
      switch (o.type) {
        case 'transitioned':
          this.transitioned(o);
          break;
        case 'send-heartbeat':
          void this.heartbeat(o.to);
          break;
        case 'start-sync':
          void this.syncing(o.attempt, o.from, o.timeoutMs, o.maxPeriod);
          break;
        case 'probe-witnesses':
          this.probeWitnesses(o);
          break;
        case 'witness-verdict':
          if (o.changed) this.publishWitnessEvent('ha-witness-verdict', { round: o.round, verdict: o.verdict, reason: o.reason, answered: o.answered, needed: o.needed, 'reached-by': o.reachedBy });
          break;
        case 'serving-changed':
          this.publishWitnessEvent('ha-serving-changed', { serving: o.serving, reason: o.reason, state: o.state });
          break;
        case 'log':
          this.handle.logger[o.level]({ msgId: o.msgId, server: this.cfg.thisServerName, ...o.fields }, o.text);
          break;
      }
    }
  }

  private transitioned(o: Extract<HaOutput, { type: 'transitioned' }>): void {
    const partner = o.partnerState ?? '';
    this.handle.logger.info(
      { msgId: 'HA_STATE_TRANSITION', server: this.cfg.thisServerName, from: o.from, to: o.to, partnerState: partner, scopes: o.scopes, paused: o.paused },
      transitionText(this.cfg, o.from, o.to, o.partnerState),
    );
    const event = {
      'server-name': this.cfg.thisServerName,
      'old-state': o.from,
      'new-state': o.to,
      'partner-state': o.partnerState,
      scopes: o.scopes,
      paused: o.paused,
      'since-last-heartbeat-ms': Math.round(o.sinceHeartbeatMs),
      time: new Date(this.wallMs()).toISOString(),
    };
    this.handle.publish('ha-state-transition', event);
    // Callouts see transitions in order, one at a time, without holding up the machine.
    this.callouts = this.callouts.then(async () => {
      try {
        await this.handle.runCallouts('ha_state_transition', { ...event });
      } catch (err) {
        this.handle.logger.error({ msgId: 'HA_CALLOUT_FAILED', point: 'ha_state_transition', err }, 'ha_state_transition callout failed');
      }
    });
    if (this.cfg.notify !== undefined) {
      const kill = runNotifyScript(this.cfg.notify, this.handle.configDir, this.handle.logger, {
        to: o.to,
        from: o.from ?? '',
        server: this.cfg.thisServerName,
        partner,
        scopes: o.scopes,
        paused: o.paused,
      }, () => this.scripts.delete(kill!));
      if (kill) this.scripts.add(kill);
    }
  }

  private publishWitnessEvent(event: string, data: Record<string, unknown>): void {
    this.handle.publish(event, { 'server-name': this.cfg.thisServerName, ...data, time: new Date(this.wallMs()).toISOString() });
  }

  /** One witness round: every witness and the ha_partner_failure_check callouts, answers fed back as they come. */
  private probeWitnesses(o: Extract<HaOutput, { type: 'probe-witnesses' }>): void {
    const partner = this.cfg.peers.find((p) => p.name === o.partner);
    if (partner === undefined) return;
    const request = { partner: peerAddress(partner), caller: this.cfg.thisServerName, timeoutMs: o.timeoutMs, fenceMs: o.fenceMs };
    for (const w of this.witnesses) {
      void w.probe(request).then((answer) => {
        if (!answer.answered) this.handle.logger.debug({ msgId: 'HA_WITNESS_PROBE_FAILED', witness: w.name, reason: answer.reason }, `witness ${w.name} did not answer: ${answer.reason}`);
        if (!this.stopped) this.apply({ type: 'witness-answered', at: this.now(), round: o.round, witness: w.name, answer });
      });
    }
    void this.failureEvidence(o.partner, o.timeoutMs).then((evidence) => {
      if (!this.stopped) this.apply({ type: 'failure-evidence', at: this.now(), round: o.round, evidence });
    });
  }

  /**
   * The `ha_partner_failure_check` callouts: an application library adds its own evidence, e.g.
   * "my clients still reach the partner", by setting `partner-alive: true` (and a `reason`).
   */
  private async failureEvidence(partner: string, timeoutMs: number): Promise<FailureEvidence> {
    const args: Record<string, unknown> = { 'server-name': this.cfg.thisServerName, partner, 'timeout-ms': timeoutMs };
    try {
      const status = await this.calloutsWithin('ha_partner_failure_check', args, timeoutMs);
      if (status === 'timeout') return { partnerAlive: false, reason: `ha_partner_failure_check did not finish within ${timeoutMs} ms` };
      const reason = typeof args['reason'] === 'string' ? args['reason'] : 'an ha_partner_failure_check callout says the partner is alive';
      return args['partner-alive'] === true ? { partnerAlive: true, reason } : { partnerAlive: false, reason: 'no application evidence' };
    } catch (err) {
      this.handle.logger.error({ msgId: 'HA_CALLOUT_FAILED', point: 'ha_partner_failure_check', err }, 'ha_partner_failure_check callout failed');
      return { partnerAlive: false, reason: 'ha_partner_failure_check failed' };
    }
  }

  /** Runs the callouts at `point`, or gives up on them after `timeoutMs`. */
  private async calloutsWithin(point: string, args: Record<string, unknown>, timeoutMs: number): Promise<CalloutStatus | 'timeout'> {
    let timer: Timer | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = this.handle.clock.setTimer(timeoutMs, () => resolve('timeout'));
    });
    try {
      return await Promise.race([this.handle.runCallouts(point, args), timedOut]);
    } finally {
      timer?.cancel();
    }
  }

  private async heartbeat(to: string): Promise<void> {
    const peer = this.cfg.peers.find((p) => p.name === to);
    if (peer === undefined) return;
    const r = await sendHeartbeat(this.handle, peerAddress(peer), this.cfg.thisServerName, heartbeatTimeoutMs(this.cfg));
    if (this.stopped) return;
    if (r.ok) {
      this.heartbeatFailures = 0;
      const { ok: _ok, ...answer } = r;
      this.apply({ type: 'heartbeat-answered', at: this.now(), wallMs: this.wallMs(), ...answer });
    } else {
      this.logHeartbeatFailure(peer, r);
      this.apply({ type: 'heartbeat-failed', at: this.now(), reason: r.reason });
    }
  }

  /**
   * Kea logs every failed heartbeat at WARN (HA_HEARTBEAT_COMMUNICATIONS_FAILED when no answer
   * came, HA_HEARTBEAT_FAILED for a bad answer; texts of Kea 2.6's ha_messages.mes). liveset's
   * heartbeats may run every 100 ms, so the first failure after a success and then one every
   * HEARTBEAT_WARN_EVERY_MS are WARN (with how many failed since), the rest debug.
   */
  private logHeartbeatFailure(peer: HaConfig['peers'][number], r: Extract<HeartbeatResult, { ok: false }>): void {
    this.heartbeatFailures++;
    const at = this.now();
    const warn = this.heartbeatFailures === 1 || at - this.heartbeatWarnedAt >= HEARTBEAT_WARN_EVERY_MS;
    if (warn) this.heartbeatWarnedAt = at;
    const label = `${peer.name} (${peer.url})`;
    const me = this.cfg.thisServerName;
    const msgId = r.kind === 'communication' ? 'HA_HEARTBEAT_COMMUNICATIONS_FAILED' : 'HA_HEARTBEAT_FAILED';
    const text = r.kind === 'communication' ? `${me}: failed to send heartbeat to ${label}: ${r.reason}` : `${me}: heartbeat to ${label} failed: ${r.reason}`;
    this.handle.logger[warn ? 'warn' : 'debug']({ msgId, server: me, partner: peer.name, reason: r.reason, failures: this.heartbeatFailures }, text);
  }

  private async syncing(attempt: number, from: string, timeoutMs: number, maxPeriod: number): Promise<void> {
    const outcome = await this.synchronize(from, timeoutMs, maxPeriod);
    if (this.stopped) return;
    this.apply({ type: 'sync-finished', at: this.now(), attempt, ...outcome });
  }

  /**
   * A synchronisation with `from`: runs the `ha_sync` callouts (user libraries bring their own
   * data over; none means nothing to sync), bounded by `timeoutMs`, then tells the partner with
   * ha-sync-complete-notify, as Kea does after fetching leases.
   */
  async synchronize(from: string, timeoutMs: number, maxPeriod: number): Promise<SyncOutcome> {
    const peer = this.cfg.peers.find((p) => p.name === from) ?? failoverPeer(this.cfg);
    if (peer === undefined) return { ok: false, reason: `no configuration specified for server ${from}` };
    this.handle.logger.info({ msgId: 'HA_SYNC_START', partner: peer.name }, `synchronising with ${peer.name}`);
    const args: Record<string, unknown> = { 'server-name': peer.name, 'partner-url': peer.url, 'max-period': maxPeriod, 'timeout-ms': timeoutMs };
    try {
      const status = await this.calloutsWithin('ha_sync', args, timeoutMs);
      if (status === 'timeout') return { ok: false, reason: `synchronisation did not finish within ${timeoutMs} ms` };
      if (status === 'drop' || typeof args['error'] === 'string') {
        return { ok: false, reason: typeof args['error'] === 'string' ? args['error'] : 'an ha_sync callout refused the synchronisation' };
      }
    } catch (err) {
      this.handle.logger.error({ msgId: 'HA_CALLOUT_FAILED', point: 'ha_sync', err }, 'ha_sync callout failed');
      return { ok: false, reason: err instanceof Error ? err.message : String(err) };
    }
    try {
      const answer = await this.handle.callPeer(
        peerAddress(peer),
        'ha-sync-complete-notify',
        { 'server-name': this.cfg.thisServerName, 'origin-id': REMOTE_ORIGIN_ID },
        Math.min(PEER_TIMEOUT_MS, Math.max(1000, timeoutMs)),
      );
      // 2 = an old partner without the command: Kea falls back and carries on.
      if (answer.result !== 0 && answer.result !== 2) return { ok: false, reason: answer.text ?? `result ${answer.result}` };
    } catch (err) {
      return { ok: false, reason: err instanceof Error ? err.message : String(err), partnerUnavailable: true };
    }
    return { ok: true };
  }
}
