import type { HaTimeouts } from '../timeouts.ts';

/**
 * xhad's decisions on one host, as pure functions of what the host has observed (spec/xapi-ha.md
 * §4.1, §4.3, §4.5, §8): who is in the liveset, whether this host survives a fault (survival rule
 * 1 with partition scores, rule 2), the join rules, and the statefile master lock. The shell
 * (xhad-stack.ts) performs the I/O — network heartbeats, reading and writing the statefile — and
 * feeds what it saw back in as `Observations` with monotonic times. PURE.
 *
 * Hosts are identified by UUID; a host's index is its position in the UUID-sorted host list, so
 * every "lowest index" below is "lowest host UUID", as in xhad.
 */

export type HostId = string;
/**
 * 'left': the host left cleanly (a clean shutdown or an emergency disable: xha's `excluded` flag,
 * set by `ha_set_excluded`); 'fenced': its last slot before a fence exit. Both take the host out of
 * the views at once; only an excluded host may stay outside a liveset on survival rule 2.
 */
export type SlotState = 'joining' | 'online' | 'left' | 'fenced';
export type PoolState = 'init' | 'active' | 'invalid';

/** What one host writes in its statefile slot every statefile interval (and at once on a change). */
export interface Slot {
  readonly host: HostId;
  readonly generation: string;
  readonly seq: number;
  readonly state: SlotState;
  /** Hosts this host hears over the network. */
  readonly hb: readonly HostId[];
  /** Hosts this host sees writing the statefile. */
  readonly sf: readonly HostId[];
  readonly liveset: readonly HostId[];
  /** Master-lock request and grant (xhad's lock_mgr bits). */
  readonly requesting: boolean;
  readonly grant: HostId | null;
  /** A booting host that was excluded (xha keeps the flag until the host joins). */
  readonly excluded?: boolean;
}

/** The statefile header: the pool state (`ha_set_pool_state`) and the generation of this enable. */
export interface Header {
  readonly state: PoolState;
  readonly generation: string;
}

/** A network heartbeat's payload. */
export interface HbMessage {
  readonly from: HostId;
  readonly generation: string;
  readonly state: SlotState;
  readonly sfAccess: boolean;
  readonly liveset: readonly HostId[];
}

export interface Observations {
  /** Last heartbeat received from each peer (monotonic ms) and what it said. */
  readonly hb: Readonly<Record<HostId, { readonly at: number; readonly msg: HbMessage }>>;
  /** Last slot read for each peer, and when its seq was last seen to change (-Infinity: never). */
  readonly slots: Readonly<Record<HostId, { readonly slot: Slot; readonly changedAt: number }>>;
  readonly header?: Header;
  /** Last successful statefile write of our own slot, and the last successful read. */
  readonly ownWriteOkAt?: number;
  readonly ownReadOkAt?: number;
  /**
   * The first successful statefile read: a slot seen for the first time says nothing about its
   * writer being alive, so only reads over a statefile timeout tell live slots from dead ones.
   */
  readonly firstReadOkAt?: number;
  /** The last statefile I/O failed (cleared by the next success). */
  readonly ioFailing: boolean;
  /**
   * This host's own slot said 'left' (it was excluded by a clean shutdown) when this process first
   * read the statefile, before writing its own slot: xha's `my_excluded_flag` at boot.
   */
  readonly selfExcluded?: boolean;
}

export interface XhadConfig {
  readonly me: HostId;
  /** Every configured host, sorted by UUID. */
  readonly hosts: readonly HostId[];
  readonly generation: string;
  readonly timeouts: HaTimeouts;
}

export type Mode = 'joining' | 'online' | 'stopped';

export interface XhadState {
  readonly mode: Mode;
  /** 'enable': pool state init, every host must join; 'boot': rejoin or form after a restart. */
  readonly joinMode: 'enable' | 'boot';
  readonly joinStartedAt: number;
  readonly liveset: readonly HostId[];
  readonly requesting: boolean;
  readonly grant: HostId | null;
  readonly holder: HostId | null;
  /** Once a lock holder has been seen, losing it makes this host contend (on_master_failure). */
  readonly seenHolder: boolean;
  /** When this host last saw a lock holder, or joined: a slave contends after T without one. */
  readonly holderSeenAt: number;
  /** Last time this host confirmed that it survives with its liveset. */
  readonly confirmedAt: number;
  readonly failoverAllowed: boolean;
  /** The pool says this host is master: it contends for the lock when nobody holds it. */
  readonly contendAsMaster: boolean;
  /** Every liveset member relies on survival rule 2 (all lost the statefile). */
  readonly statefileLost: boolean;
  /** Joining after a clean shutdown (Observations.selfExcluded): the slot says so until the join. */
  readonly excluded: boolean;
}

export interface View {
  readonly hbd: readonly HostId[];
  readonly sfd: readonly HostId[];
  readonly sfAccess: boolean;
}

export type Verdict =
  | { readonly kind: 'survive'; readonly rule: 'healthy' | 'rule-1' | 'partition' | 'rule-2'; readonly reason: string }
  | { readonly kind: 'pending'; readonly reason: string }
  | { readonly kind: 'fence'; readonly reason: string };

export type Decision =
  | { readonly kind: 'fence'; readonly reason: string }
  | { readonly kind: 'joined' }
  | { readonly kind: 'join-timeout'; readonly reason: string }
  | { readonly kind: 'invalidated' }
  | { readonly kind: 'statefile-lost' }
  | { readonly kind: 'statefile-regained' };

export interface StepResult {
  readonly state: XhadState;
  readonly view: View;
  readonly verdict?: Verdict;
  readonly decisions: readonly Decision[];
}

export function initialState(mode: 'enable' | 'boot', at: number, contendAsMaster: boolean): XhadState {
  return {
    mode: 'joining', joinMode: mode, joinStartedAt: at, liveset: [], requesting: false, grant: null, holder: null, seenHolder: false, holderSeenAt: at,
    confirmedAt: at, failoverAllowed: true, contendAsMaster, statefileLost: false, excluded: false,
  };
}

const sorted = (xs: Iterable<HostId>): HostId[] => [...new Set(xs)].sort();
const subset = (a: readonly HostId[], b: readonly HostId[]) => a.every((x) => b.includes(x));

/** The state a peer last announced (slot or heartbeat, whichever we heard of last), if of this generation. */
function lastAnnounced(obs: Observations, h: HostId, cfg: XhadConfig): SlotState | undefined {
  const s = obs.slots[h];
  const m = obs.hb[h];
  const slotAt = s && s.slot.generation === cfg.generation ? s.changedAt : -Infinity;
  const hbAt = m && m.msg.generation === cfg.generation ? m.at : -Infinity;
  if (s && slotAt > hbAt) return s.slot.state;
  if (m && hbAt >= slotAt && hbAt > -Infinity) return m.msg.state;
  return undefined;
}

/** The peer said it left (cleanly or by fencing): it is out of the views at once. */
function peerGone(obs: Observations, h: HostId, cfg: XhadConfig): boolean {
  const s = lastAnnounced(obs, h, cfg);
  return s === 'left' || s === 'fenced';
}

/**
 * The peer is excluded (xha's `excluded` flag, read from the statefile): it left cleanly, or it is
 * booting after a clean shutdown and has not joined yet. Such a host does not write the statefile
 * as a member nor form a liveset alone behind our back (see stepJoining). A fenced or dead host is
 * not excluded: it reboots and boot-joins. A heartbeat newer than the slot overrides it, except a
 * 'joining' one (heartbeats do not carry the flag).
 */
function peerExcluded(obs: Observations, h: HostId, cfg: XhadConfig): boolean {
  const s = obs.slots[h];
  const m = obs.hb[h];
  const slotSays = s !== undefined && s.slot.generation === cfg.generation && (s.slot.state === 'left' || (s.slot.state === 'joining' && s.slot.excluded === true));
  if (m && m.msg.generation === cfg.generation && m.at >= (s?.changedAt ?? -Infinity)) {
    if (m.msg.state === 'left') return true;
    if (m.msg.state !== 'joining') return false;
  }
  return slotSays;
}

/** Statefile access: the last I/O succeeded and both a read and a write did within half of T2. */
export function hasStatefileAccess(cfg: XhadConfig, obs: Observations, at: number): boolean {
  const bound = cfg.timeouts.statefileTimeoutMs / 2;
  return !obs.ioFailing && obs.ownWriteOkAt !== undefined && obs.ownReadOkAt !== undefined &&
    at - obs.ownWriteOkAt < bound && at - obs.ownReadOkAt < bound;
}

/** Who this host hears over the network (T1) and sees writing the statefile (T2), itself included. */
export function viewOf(cfg: XhadConfig, obs: Observations, at: number): View {
  const t = cfg.timeouts;
  const hbd = [cfg.me];
  const sfAccess = hasStatefileAccess(cfg, obs, at);
  const sfd = sfAccess ? [cfg.me] : [];
  for (const h of cfg.hosts) {
    if (h === cfg.me || peerGone(obs, h, cfg)) continue;
    const m = obs.hb[h];
    if (m && m.msg.generation === cfg.generation && at - m.at < t.heartbeatTimeoutMs) hbd.push(h);
    const s = obs.slots[h];
    if (sfAccess && s && s.slot.generation === cfg.generation && at - s.changedAt < t.statefileTimeoutMs) sfd.push(h);
  }
  return { hbd: sorted(hbd), sfd: sorted(sfd), sfAccess };
}

/** Who `h` hears over the network: our own view for us, its slot for a peer. */
function hbOf(cfg: XhadConfig, obs: Observations, view: View, h: HostId): readonly HostId[] {
  if (h === cfg.me) return view.hbd;
  return obs.slots[h]?.slot.hb ?? [];
}

/**
 * A host's partition as this host can tell it: the host plus every host visible on the statefile
 * that it hears and that hears it (both directions, so a peer's stale slot cannot claim a link this
 * host knows is cut).
 */
export function partitionOf(cfg: XhadConfig, obs: Observations, view: View, h: HostId): HostId[] {
  const hb = hbOf(cfg, obs, view, h);
  return sorted([h, ...view.sfd.filter((j) => j !== h && hb.includes(j) && hbOf(cfg, obs, view, j).includes(h))]);
}

/**
 * The partition-score winner among hosts visible on the statefile: the largest partition; on a
 * tie, the lowest index (lowest UUID) — the scan in xha's sm.c.
 */
export function partitionWinner(cfg: XhadConfig, obs: Observations, view: View): { winner: HostId; partition: HostId[] } | undefined {
  let best: { winner: HostId; partition: HostId[] } | undefined;
  for (const h of cfg.hosts) {
    if (!view.sfd.includes(h)) continue;
    const p = partitionOf(cfg, obs, view, h);
    if (!best || p.length > best.partition.length) best = { winner: h, partition: p };
  }
  return best;
}

/**
 * Fault handling (spec §8): does this host survive with `liveset`? 'pending' while the views are
 * still settling (a peer missing on the network still claims to hear us on the statefile, or peers
 * have not yet reported losing the statefile): no confirmation, so the lease decides if it lasts.
 */
export function survival(cfg: XhadConfig, obs: Observations, view: View, liveset: readonly HostId[], at: number): Verdict {
  const { hbd, sfd, sfAccess } = view;
  if (sfAccess) {
    if (subset(liveset, hbd) && subset(liveset, sfd)) return { kind: 'survive', rule: 'healthy', reason: 'every liveset member is visible on the network and on the statefile' };
    if (subset(sfd, hbd)) return { kind: 'survive', rule: 'rule-1', reason: 'every host seen on the statefile is also heard on the network' };
    // A peer still writing its slot will soon report what it hears; one that stopped writing (it
    // fenced or died right after noticing) will not, so its stale claim does not hold us up.
    const writing = (j: HostId) => at - (obs.slots[j]?.changedAt ?? -Infinity) < cfg.timeouts.statefileIntervalMs + 2 * cfg.timeouts.tickMs;
    const unsettled = sfd.filter((j) => !hbd.includes(j) && writing(j) && (obs.slots[j]?.slot.hb ?? []).includes(cfg.me));
    if (unsettled.length > 0) return { kind: 'pending', reason: `waiting for ${unsettled.join(', ')} to notice the network fault` };
    const w = partitionWinner(cfg, obs, view);
    if (!w) return { kind: 'pending', reason: 'no partition visible' };
    const mine = partitionOf(cfg, obs, view, cfg.me);
    if (w.winner === cfg.me) return { kind: 'survive', rule: 'partition', reason: `this host's partition (${mine.length} hosts) is the best` };
    if (w.partition.includes(cfg.me) && hbd.includes(w.winner)) return { kind: 'survive', rule: 'partition', reason: `in the best partition with ${w.winner}` };
    return {
      kind: 'fence',
      reason: w.partition.length > mine.length
        ? `this host's partition (${mine.length} hosts) is smaller than ${w.winner}'s (${w.partition.length} hosts)`
        : `this host's partition ties with ${w.winner}'s (${mine.length} hosts each) and ${w.winner} has the lower host UUID`,
    };
  }
  // Survival rule 2 (xha's test_Survival_Rule): every configured host is either a liveset member
  // heard on the network without statefile access, or excluded (it left cleanly). A host outside
  // the liveset that is not excluded (dead, fenced, booting, cut off) may reach the statefile — or
  // reboot and reach it — and form a liveset of its own there, which this host could never see:
  // rule 2's premise (nobody can reach the statefile) does not hold, so this host fences.
  const missing = liveset.filter((h) => h !== cfg.me && !hbd.includes(h));
  if (missing.length > 0) return { kind: 'fence', reason: `lost the statefile and cannot hear ${missing.join(', ')} on the network` };
  // Rule 2 not holding is no confirmation: the host stops acting when its lease runs out (before
  // a host that reads the statefile can take its slot for dead and form a liveset, as for a host
  // that alone lost the statefile) and fences then — unless the statefile comes back first: a
  // transient I/O failure (storage returning after a cut) is not a fence (sim pool-ha seed 11216).
  const outside = cfg.hosts.filter((h) => h !== cfg.me && !liveset.includes(h) && !peerExcluded(obs, h, cfg));
  if (outside.length > 0) {
    return { kind: 'pending', reason: `lost the statefile while ${outside.join(', ')}, outside the liveset and not excluded by a clean shutdown, may reach it (survival rule 2 does not hold)` };
  }
  // A member admitted while it was booting that has not announced that it joined is not in the
  // liveset yet by its own account (in xha it is not until its start criteria pass): it may still
  // form a liveset of its own on the statefile (sim pool-ha seed 5753).
  const notJoined = liveset.filter((h) => h !== cfg.me && lastAnnounced(obs, h, cfg) === 'joining' && !peerExcluded(obs, h, cfg));
  if (notJoined.length > 0) {
    return { kind: 'pending', reason: `lost the statefile while ${notJoined.join(', ')}, still joining and not excluded, may reach it and form a liveset of its own (survival rule 2 does not hold)` };
  }
  const withAccess = liveset.filter((h) => h !== cfg.me && obs.hb[h]?.msg.sfAccess !== false);
  if (withAccess.length > 0) return { kind: 'pending', reason: `lost the statefile while ${withAccess.join(', ')} still report access to it` };
  return { kind: 'survive', rule: 'rule-2', reason: 'every liveset member lost the statefile and all still hear each other; every other host is excluded (survival rule 2)' };
}

function slotOf(obs: Observations, h: HostId): Slot | undefined {
  return obs.slots[h]?.slot;
}

/**
 * The master-lock holder (spec §4.3): a liveset member that requests the lock and that every
 * liveset member grants. A member that has not granted anyone yet (a host that just joined)
 * abstains rather than vetoing, so a rejoining host never unseats the holder; every requester
 * grants someone, so two requesters still cannot both hold the lock. Grants are read from the
 * statefile, so without access the last known holder is kept while it stays in the liveset.
 */
export function lockHolder(cfg: XhadConfig, obs: Observations, st: XhadState, liveset: readonly HostId[], sfAccess: boolean): HostId | null {
  if (!sfAccess) return st.holder !== null && liveset.includes(st.holder) ? st.holder : null;
  const requesting = (h: HostId) => (h === cfg.me ? st.requesting : slotOf(obs, h)?.requesting === true);
  const grant = (h: HostId) => (h === cfg.me ? st.grant : slotOf(obs, h)?.grant ?? null);
  for (const h of cfg.hosts) {
    if (liveset.includes(h) && requesting(h) && liveset.every((m) => grant(m) === h || grant(m) === null)) return h;
  }
  return null;
}

/** One evaluation: view, fault handling, liveset changes, the lock. */
export function step(cfg: XhadConfig, st: XhadState, obs: Observations, at: number): StepResult {
  const view = viewOf(cfg, obs, at);
  if (st.mode === 'stopped') return { state: st, view, decisions: [] };
  const header = obs.header;
  if (header && header.generation === cfg.generation && header.state === 'invalid') {
    return { state: { ...st, mode: 'stopped', requesting: false }, view, decisions: [{ kind: 'invalidated' }] };
  }
  if (st.mode === 'joining') return stepJoining(cfg, st, obs, view, at);
  return stepOnline(cfg, st, obs, view, at);
}

function stepJoining(cfg: XhadConfig, st0: XhadState, obs: Observations, view: View, at: number): StepResult {
  const t = cfg.timeouts;
  const st: XhadState = obs.selfExcluded === true && !st0.excluded && st0.joinMode === 'boot' ? { ...st0, excluded: true } : st0;
  const joined = (liveset: HostId[]): StepResult => {
    const state: XhadState = { ...st, mode: 'online', liveset, confirmedAt: Math.min(at, obs.ownWriteOkAt ?? at), excluded: false, holderSeenAt: at };
    const next = stepOnline(cfg, state, obs, view, at);
    return { ...next, decisions: [{ kind: 'joined' }, ...next.decisions] };
  };
  const timeout = st.joinMode === 'enable' ? t.enableJoinMs : t.bootJoinMs;
  if (st.joinMode === 'enable') {
    const both = view.hbd.filter((h) => view.sfd.includes(h));
    if (cfg.hosts.every((h) => both.includes(h))) return joined([...cfg.hosts]);
    if (at - st.joinStartedAt >= timeout) {
      const offNet = cfg.hosts.filter((h) => !view.hbd.includes(h));
      const offSf = cfg.hosts.filter((h) => !view.sfd.includes(h));
      const parts = [
        !view.sfAccess ? 'this host cannot access the statefile' : '',
        offNet.length ? `not heard on the network: ${offNet.join(', ')}` : '',
        offSf.length && view.sfAccess ? `not seen on the statefile: ${offSf.join(', ')}` : '',
      ].filter(Boolean);
      return { state: { ...st, mode: 'stopped' }, view, decisions: [{ kind: 'join-timeout', reason: `the liveset did not form within ${timeout} ms (${parts.join('; ')})` }] };
    }
    return { state: st, view, decisions: [] };
  }
  // Boot: join an existing liveset that has admitted us, else form one if in the best partition.
  if (view.sfAccess) {
    const members = view.sfd.filter((h) => h !== cfg.me && slotOf(obs, h)?.state === 'online');
    const admitting = members.filter((h) => view.hbd.includes(h) && (slotOf(obs, h)?.liveset ?? []).includes(cfg.me));
    if (admitting.length > 0 && subset(view.sfd, view.hbd)) {
      return joined(sorted(admitting.flatMap((h) => slotOf(obs, h)?.liveset ?? []).concat(cfg.me)));
    }
    // Nobody online: everyone is booting. Wait long enough to have seen every live slot change:
    // a statefile timeout of reading it, not merely of trying (a host whose first reads hung
    // would otherwise take every slot it sees for the first time as dead and form alone).
    const readingSince = Math.max(st.joinStartedAt, obs.firstReadOkAt ?? at);
    // Nor while a host heard on the network says it is online: it holds a liveset (perhaps on
    // survival rule 2, without the statefile, so its slot looks dead) and must admit us.
    const onlineOnNet = view.hbd.some((h) => h !== cfg.me && obs.hb[h]?.msg.state === 'online');
    // Nor when this host was excluded (it left cleanly) while another host was not: that host may
    // hold a liveset on survival rule 2, which counts on this host never forming one alone (xha's
    // MTC_ERROR_SM_BOOT_BLOCKED_BY_EXCLUDED). It waits to be admitted.
    const blockedByExcluded = st.excluded && !cfg.hosts.every((h) => h === cfg.me || peerExcluded(obs, h, cfg));
    if (members.length === 0 && !onlineOnNet && !blockedByExcluded && at - readingSince >= t.statefileTimeoutMs) {
      const w = partitionWinner(cfg, obs, view);
      if (w && (w.winner === cfg.me || (w.partition.includes(cfg.me) && view.hbd.includes(w.winner)))) return joined(w.partition);
    }
  }
  return { state: st, view, decisions: [] };
}

function stepOnline(cfg: XhadConfig, st: XhadState, obs: Observations, view: View, at: number): StepResult {
  const decisions: Decision[] = [];
  let liveset = st.liveset.filter((h) => h === cfg.me || !peerGone(obs, h, cfg));
  const verdict = survival(cfg, obs, view, liveset, at);
  if (verdict.kind === 'fence') return { state: { ...st, mode: 'stopped', requesting: false }, view, verdict, decisions: [{ kind: 'fence', reason: verdict.reason }] };
  let confirmedAt = st.confirmedAt;
  if (verdict.kind === 'survive') confirmedAt = Math.max(confirmedAt, verdict.rule === 'rule-2' ? at : Math.min(at, obs.ownWriteOkAt ?? at));
  if (at - confirmedAt > cfg.timeouts.leaseMs) {
    const reason = `no confirmed membership for ${Math.round(at - confirmedAt)} ms (lease ${cfg.timeouts.leaseMs} ms)${verdict.kind === 'pending' ? `: ${verdict.reason}` : ''}`;
    return { state: { ...st, mode: 'stopped', requesting: false }, view, verdict, decisions: [{ kind: 'fence', reason }] };
  }
  if (verdict.kind === 'survive' && view.sfAccess) {
    // Hosts silent on both channels are dead (a loser has fenced before its slot went stale) —
    // once this host has watched both channels for their timeouts: a host that has just booted
    // and joined has not yet heard every live member, and sees every slot for the first time.
    const watching = Math.max(st.joinStartedAt, obs.firstReadOkAt ?? at);
    const t = cfg.timeouts;
    if (at - watching >= Math.max(t.heartbeatTimeoutMs, t.statefileTimeoutMs)) {
      liveset = liveset.filter((h) => h === cfg.me || view.hbd.includes(h) || view.sfd.includes(h));
    }
    // Admit joiners visible on both channels.
    for (const h of view.hbd) {
      const s = slotOf(obs, h);
      if (!liveset.includes(h) && view.sfd.includes(h) && s && (s.state === 'joining' || s.state === 'online')) liveset = [...liveset, h];
    }
    liveset = sorted(liveset);
  }
  const statefileLost = verdict.kind === 'survive' && verdict.rule === 'rule-2';
  if (statefileLost && !st.statefileLost) decisions.push({ kind: 'statefile-lost' });
  if (!statefileLost && st.statefileLost && view.sfAccess) decisions.push({ kind: 'statefile-regained' });

  const holder = lockHolder(cfg, obs, st, liveset, view.sfAccess);
  const seenHolder = st.seenHolder || holder !== null;
  const holderSeenAt = holder !== null ? at : st.holderSeenAt;
  let requesting = st.requesting;
  let grant = st.grant;
  if (view.sfAccess) {
    // Who contends while nobody holds the lock: the pool master at once, a host that saw a holder
    // lost at once (on_master_failure), and the liveset's lowest-UUID host once there has been no
    // holder for T while the pool is settled — xapi's slave monitor finds no live master and runs
    // on_master_failure; without it a pool whose master never came back after a restart of every
    // host stays masterless (sim pool-ha seeds 4008, 4679). Settled: every member says it is
    // online (an enable in progress is waited for, so the enabling master takes the lock first)
    // and every host outside the liveset is silent on both channels. Where nobody has granted
    // anyone yet, two requesters reading each other's slots from before they asked both see
    // abstentions, so a slave must not race a live host it has not admitted — a rebooted master
    // contending at once (seed 10372) — nor other slaves (only the lowest asks).
    const settled = liveset.every((h) => h === cfg.me || lastAnnounced(obs, h, cfg) === 'online') &&
      cfg.hosts.every((h) => liveset.includes(h) || (!view.hbd.includes(h) && !view.sfd.includes(h)));
    const contend = seenHolder || st.contendAsMaster || (settled && liveset[0] === cfg.me && at - holderSeenAt >= cfg.timeouts.baseMs);
    requesting = st.failoverAllowed && (holder === cfg.me || (holder === null && contend));
    const req = (h: HostId) => (h === cfg.me ? requesting : slotOf(obs, h)?.requesting === true);
    if (holder !== null && req(holder)) grant = holder;
    else grant = cfg.hosts.find((h) => liveset.includes(h) && req(h)) ?? null;
  }
  return {
    state: { ...st, liveset, confirmedAt, holder, seenHolder, holderSeenAt, requesting, grant, statefileLost: statefileLost || (st.statefileLost && !view.sfAccess) },
    view, verdict, decisions,
  };
}

/** This host may act as master: online, holding the lock, and within its lease. */
export function holdsMaster(cfg: XhadConfig, st: XhadState, at: number): boolean {
  return st.mode === 'online' && st.holder === cfg.me && at - st.confirmedAt <= cfg.timeouts.leaseMs;
}

/** The slot this host writes next; `gone`: its last one (a clean leave, or a fence). */
export function slotFor(cfg: XhadConfig, st: XhadState, view: View, seq: number, gone?: 'left' | 'fenced'): Slot {
  return {
    host: cfg.me, generation: cfg.generation, seq, state: gone ?? (st.mode === 'online' ? 'online' : 'joining'),
    hb: view.hbd, sf: view.sfd, liveset: st.liveset, requesting: st.requesting, grant: st.grant,
    ...(gone === undefined && st.mode === 'joining' && st.excluded ? { excluded: true } : {}),
  };
}

/**
 * For status: which host would survive if the network split the current liveset in two halves
 * (CloudStack's "semi-deterministic fencing" made visible). Larger side wins; equal sides: the side
 * holding the lowest host UUID.
 */
export function splitSurvivor(liveset: readonly HostId[]): { survivor: HostId; reason: string } | undefined {
  const s = sorted(liveset);
  const lowest = s[0];
  if (lowest === undefined) return undefined;
  if (s.length === 1) return { survivor: lowest, reason: 'the only host in the liveset' };
  if (s.length === 2) {
    return { survivor: lowest, reason: `a network split leaves two partitions of one host each; the tie goes to the lower host UUID (${lowest}), whichever host is master` };
  }
  return { survivor: lowest, reason: `the largest partition survives; on an even split the partition holding the lowest host UUID (${lowest}) does` };
}
