/** Every state a server itself can be in, spelled as on the wire (Kea's labels). */
export const HA_STATES = [
  'backup',
  'communication-recovery',
  'hot-standby',
  'load-balancing',
  'in-maintenance',
  'partner-down',
  'partner-in-maintenance',
  'passive-backup',
  'ready',
  'syncing',
  'terminated',
  'waiting',
] as const;

export type HaState = (typeof HA_STATES)[number];

/**
 * What we last know of the partner: one of its states, `unavailable` after a failed exchange, or
 * null before any attempt (Kea's -1).
 */
export type PartnerState = HaState | 'unavailable';

/** Pause rule of a state: `once` in the life of the server, on every entry, or never. */
export type PauseRule = 'always' | 'once' | 'never';
export const PAUSE_RULES: readonly PauseRule[] = ['always', 'once', 'never'];

export function isHaState(s: unknown): s is HaState {
  return typeof s === 'string' && (HA_STATES as readonly string[]).includes(s);
}

/** Known labels, including the partner-only `unavailable` (what a heartbeat answer may carry). */
export function isPartnerState(s: unknown): s is PartnerState {
  return s === 'unavailable' || isHaState(s);
}

/** States in which the served application is switched on (Kea's adjustNetworkState truth table). */
const SERVICE_ENABLED: ReadonlySet<HaState> = new Set<HaState>([
  'communication-recovery',
  'load-balancing',
  'hot-standby',
  'partner-down',
  'partner-in-maintenance',
  'passive-backup',
  'terminated',
]);

export function serviceEnabledIn(state: HaState): boolean {
  return SERVICE_ENABLED.has(state);
}
