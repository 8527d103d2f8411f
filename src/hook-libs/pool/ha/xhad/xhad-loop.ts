import type { HaTimeouts } from '../timeouts.ts';
import type { HbMessage, Header, Mode, Slot, View, XhadConfig, XhadState } from './xhad-machine.ts';

/**
 * The bookkeeping of xhad's loop on one host, between the I/O and the machine (xhad-machine.ts):
 * what a statefile read and a heartbeat add to the observations, when to write the own slot and
 * when to send heartbeats, and the watchdog bound. The shell (xhad-stack.ts) and the simulator
 * (sim/profiles/pool-ha.ts) both run these, so the simulator checks the shell's rules, not a copy.
 * PURE (the observation records are updated in place; nothing else is touched).
 */

/** The observations as the loop keeps them (the machine reads them as `Observations`). */
export interface LoopObservations {
  hb: Record<string, { at: number; msg: HbMessage }>;
  slots: Record<string, { slot: Slot; changedAt: number }>;
  header?: Header;
  ownWriteOkAt?: number;
  ownReadOkAt?: number;
  firstReadOkAt?: number;
  ioFailing: boolean;
  selfExcluded?: boolean;
}

export const emptyObservations = (): LoopObservations => ({ hb: {}, slots: {}, ioFailing: false });

/**
 * A successful statefile read at `at`: the header when one decoded, and each peer's slot (by host
 * index; undefined when absent or torn). A slot whose seq or generation changed counts as a sign of
 * life at `at`; the first sight of a slot does not (it may be years old).
 */
export function observeRead(cfg: XhadConfig, obs: LoopObservations, header: Header | undefined, slots: readonly (Slot | undefined)[], at: number): void {
  obs.ownReadOkAt = at;
  obs.firstReadOkAt ??= at;
  obs.ioFailing = false;
  if (header) obs.header = header;
  cfg.hosts.forEach((id, i) => {
    const slot = slots[i];
    // Our own slot as this process first finds it, before writing it (mayWriteSlot): 'left'
    // means this host was excluded by a clean shutdown (xha's my_excluded_flag at boot).
    if (id === cfg.me && slot?.host === id && obs.ownWriteOkAt === undefined && obs.selfExcluded === undefined) {
      obs.selfExcluded = slot.generation === cfg.generation && (slot.state === 'left' || (slot.state === 'joining' && slot.excluded === true));
    }
    if (id === cfg.me || !slot || slot.host !== id) return;
    const prev = obs.slots[id];
    if (!prev) obs.slots[id] = { slot, changedAt: -Infinity };
    else if (prev.slot.seq !== slot.seq || prev.slot.generation !== slot.generation) obs.slots[id] = { slot, changedAt: at };
  });
}

/** A heartbeat received at `at`; ignored unless it is from a member of this generation. */
export function observeHeartbeat(cfg: XhadConfig, obs: LoopObservations, message: unknown, at: number): boolean {
  const m = message as HbMessage | undefined;
  if (typeof m?.from !== 'string' || m.from === cfg.me || m.generation !== cfg.generation || !cfg.hosts.includes(m.from)) return false;
  obs.hb[m.from] = { at, msg: m };
  return true;
}

/** What this host's heartbeats say. */
export function heartbeatOf(cfg: XhadConfig, st: XhadState, view: View, gone?: 'left' | 'fenced'): HbMessage {
  return {
    from: cfg.me, generation: cfg.generation, state: gone ?? (st.mode === 'online' ? 'online' : 'joining'), sfAccess: view.sfAccess, liveset: st.liveset,
  };
}

/** A slot's content without its sequence number (what decides whether it changed). */
export const slotContent = (slot: Slot): string => JSON.stringify({ ...slot, seq: 0 });

/**
 * The own slot may be written once the statefile has been read once: the first read must see the
 * slot this host left behind (was it excluded?) before this process overwrites it.
 */
export const mayWriteSlot = (obs: LoopObservations): boolean => obs.firstReadOkAt !== undefined;

/** Write the own slot now: forced, its content changed, or a statefile interval since the last write. */
export function slotWriteDue(t: HaTimeouts, slot: Slot, lastContent: string, lastWriteAt: number, at: number, force = false): boolean {
  return force || slotContent(slot) !== lastContent || at - lastWriteAt >= t.statefileIntervalMs;
}

/** Send heartbeats now: forced, every heartbeat interval, and at once when statefile access changed (rule 2 needs it). */
export function beatDue(t: HaTimeouts, view: View, lastBeatAt: number, lastBeatAccess: boolean | undefined, at: number, force = false): boolean {
  return force || at - lastBeatAt >= t.heartbeatIntervalMs || lastBeatAccess !== view.sfAccess;
}

/** The watchdog: an online host whose own loop has not ticked within the heartbeat watchdog bound must fence. */
export function watchdogExpired(t: HaTimeouts, mode: Mode, lastTickAt: number | undefined, at: number): string | undefined {
  if (lastTickAt === undefined || mode !== 'online' || at - lastTickAt <= t.heartbeatWatchdogMs) return undefined;
  return `watchdog: the heartbeat and statefile loop stalled for ${Math.round(at - lastTickAt)} ms (bound ${t.heartbeatWatchdogMs} ms)`;
}
