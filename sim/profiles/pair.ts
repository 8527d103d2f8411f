import { parseHaConfig } from '../../src/hook-libs/ha/ha-config-parser.ts';
import type { HaMode } from '../../src/hook-libs/ha/ha-config.ts';
import { registerHaCommands } from '../../src/hook-libs/ha/ha-commands.ts';
import { HaService } from '../../src/hook-libs/ha/ha-service.ts';
import type { Profile, SimContext, ClusterRun } from '../profile.ts';
import { SimHost, type LibraryRunner } from '../sim-host.ts';

const FAULT_PHASE_MS = 60_000;

/**
 * The operator: during the faults, puts one server's partner into maintenance and cancels it a
 * few seconds later (ha-maintenance-start/-cancel), now and then. After the faults, finishes any
 * maintenance left over, as an operator would, retrying until done: ha-maintenance-cancel on a
 * server in partner-in-maintenance, a restart of one in in-maintenance whose partner is not.
 */
function operator(ctx: SimContext, hosts: readonly SimHost<HaService>[], v: PairVariant, faultPhaseMs: number): void {
  if (v.mode === 'passive-backup') return;
  const p = ctx.prng.fork('operator');
  const pair = hosts.slice(0, 2);
  const call = (h: SimHost<HaService>, command: string): void => {
    ctx.trace.note(`operator ${command} on ${h.name}`);
    void h.request(command, {}).then((a) => ctx.trace.note(`operator ${command} on ${h.name}: ${a === undefined ? 'no answer' : `${a.result} ${a.text ?? ''}`}`));
  };
  for (let i = p.int(0, 3); i > 0; i--) {
    const h = p.pick(pair);
    const at = p.int(1000, faultPhaseMs - 10_000);
    ctx.world.schedule(at, 'operator', () => call(h, 'ha-maintenance-start'));
    ctx.world.schedule(at + p.int(500, 8000), 'operator', () => call(h, 'ha-maintenance-cancel'));
  }
  const tidy = (): void => {
    for (const h of pair) {
      const state = h.service?.current.state;
      const partner = pair.find((x) => x !== h)?.service?.current.state;
      if (state === 'partner-in-maintenance') call(h, 'ha-maintenance-cancel');
      if (state === 'in-maintenance' && partner !== 'partner-in-maintenance') {
        ctx.trace.note(`operator restarts ${h.name} (in-maintenance)`);
        h.crash(false);
        void h.start();
      }
    }
    ctx.world.schedule(5_000, 'operator', tidy);
  };
  ctx.world.schedule(faultPhaseMs + 1, 'operator', tidy);
}

/** The ha library as the core loads it, minus the module-level singleton (many servers share one process here). */
const haRunner: LibraryRunner<HaService> = {
  start(handle) {
    const r = parseHaConfig(handle.parameters, handle.serverName);
    if (!r.ok) throw new Error(r.problems.join('; '));
    const s = new HaService(handle, r.config);
    registerHaCommands(handle, s);
    s.start();
    return s;
  },
  kill: (s) => s.stop(),
};

const ROLES: Record<HaMode, readonly string[]> = {
  'load-balancing': ['primary', 'secondary'],
  'hot-standby': ['primary', 'standby'],
  'passive-backup': ['primary'],
};

interface PairVariant {
  readonly mode: HaMode;
  readonly backups: number;
  readonly heartbeatDelay: number;
  readonly maxResponseDelay: number;
  readonly syncLeases: boolean;
  readonly delayedUpdatesLimit: number;
}

function drawVariant(ctx: SimContext): PairVariant {
  const p = ctx.prng;
  const mode = p.pick<HaMode>(['load-balancing', 'load-balancing', 'hot-standby', 'hot-standby', 'passive-backup']);
  const heartbeatDelay = p.pick([500, 1000, 2000]);
  return {
    mode,
    backups: mode === 'passive-backup' ? p.int(1, 2) : p.int(0, 2),
    heartbeatDelay,
    maxResponseDelay: heartbeatDelay * p.int(2, 5),
    syncLeases: p.chance(0.7),
    delayedUpdatesLimit: mode === 'load-balancing' && p.chance(0.5) ? 100 : 0,
  };
}

/**
 * States in which Kea lets a server serve a scope its partner may still serve: partner-down (the
 * partner stopped answering but may be alive behind a partition) and partner-in-maintenance
 * (during ha-maintenance-cancel the partner goes back to its normal state before this server
 * hears its answer: one round trip).
 */
const OVERLAP_ALLOWED: ReadonlySet<string> = new Set(['partner-down', 'partner-in-maintenance']);

/** Which peer names a server serves right now (Kea serves a scope only with its service enabled). */
function served(s: HaService): readonly string[] {
  const m = s.current;
  return m.serviceEnabled ? m.scopes : [];
}

/**
 * An HA relationship: a pair in load-balancing or hot-standby with up to two backups, or a
 * passive-backup primary with backups. Invariants: a backup never serves; a scope is served by
 * two servers at once only while one of them is in partner-down (Kea's accepted risk when a live
 * partner cannot be reached); after the faults stop, the pair is back in its normal state with
 * every scope served exactly once.
 */
export const pairProfile: Profile = {
  name: 'pair',
  build(ctx: SimContext): ClusterRun {
    const v = drawVariant(ctx);
    const roles = [...ROLES[v.mode], ...Array.from({ length: v.backups }, () => 'backup')];
    const peers = roles.map((role, i) => ({ name: `server${i + 1}`, url: `http://127.0.0.1:${8001 + i}/`, role }));
    const parameters = {
      'high-availability': [{
        mode: v.mode,
        'heartbeat-delay': v.heartbeatDelay,
        'max-response-delay': v.maxResponseDelay,
        'sync-leases': v.syncLeases,
        'sync-timeout': 10_000,
        'delayed-updates-limit': v.delayedUpdatesLimit,
        peers,
      }],
    };
    const hosts = peers.map((p) => new SimHost<HaService>(p.name, ctx.world, ctx.net, ctx.trace, haRunner, parameters));
    const roleOf = new Map(peers.map((p) => [p.name, p.role]));
    const normal = v.mode === 'passive-backup' ? 'passive-backup' : v.mode;
    // Scopes Kea serves in the normal state: own name for primary/secondary, nothing for others.
    const normalScopes = (name: string): string[] => (roleOf.get(name) === 'primary' || roleOf.get(name) === 'secondary' ? [name] : []);
    const allScopes = peers.filter((p) => p.role === 'primary' || p.role === 'secondary').map((p) => p.name);
    const up = () => hosts.filter((h) => h.up);
    return {
      variant: `${v.mode} with ${v.backups} backup(s), heartbeat ${v.heartbeatDelay} ms, max-response-delay ${v.maxResponseDelay} ms, sync-leases ${v.syncLeases}, delayed-updates-limit ${v.delayedUpdatesLimit}`,
      hosts,
      faultPhaseMs: FAULT_PHASE_MS,
      // Heartbeats resume within one delay plus a timeout; waiting -> syncing -> ready -> normal
      // takes a few exchanges on each side, and a partner-down side needs the interruption first.
      convergenceBoundMs: 2 * v.maxResponseDelay + 12 * v.heartbeatDelay + 10_000,
      status(h) {
        const s = h.service as HaService | undefined;
        if (!h.up || s === undefined) return `${h.name} down`;
        const m = s.current;
        return `${h.name} ${m.state}${m.pause.paused ? ' (paused)' : ''} serves [${served(s).join(',')}] partner ${m.partner.partnerState ?? 'unknown'}`;
      },
      startWorkload: () => operator(ctx, hosts, v, FAULT_PHASE_MS),
      violations() {
        const out: string[] = [];
        const live = up();
        for (const h of live) {
          if (roleOf.get(h.name) === 'backup' && served(h.service as HaService).length > 0) out.push(`backup ${h.name} serves ${served(h.service as HaService).join(',')}`);
        }
        for (const scope of allScopes) {
          const by = live.filter((h) => served(h.service as HaService).includes(scope));
          if (by.length < 2) continue;
          if (!by.some((h) => OVERLAP_ALLOWED.has((h.service as HaService).current.state))) out.push(`scope ${scope} served by ${by.map((h) => `${h.name} (${(h.service as HaService).current.state})`).join(' and ')}`);
        }
        return out;
      },
      unconverged() {
        for (const h of hosts) {
          const s = h.service as HaService | undefined;
          if (!h.up || s === undefined) return `${h.name} is down`;
          const want = roleOf.get(h.name) === 'backup' ? 'backup' : normal;
          const m = s.current;
          if (m.state !== want) return `${h.name} is ${m.state}, not ${want}`;
          if (m.pause.paused) return `${h.name} is paused`;
          const scopes = served(s).join(',');
          if (scopes !== normalScopes(h.name).join(',')) return `${h.name} serves [${scopes}], not [${normalScopes(h.name).join(',')}]`;
        }
        return undefined;
      },
    };
  },
};
