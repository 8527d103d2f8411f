/**
 * Fence-loop protection (users' whole-pool reboot loops when the heartbeat storage is the single
 * point of failure): a host that fenced `count` times within `windowMs` comes up with HA disarmed
 * locally and says so, instead of rejoining and fencing again. PURE.
 */
export interface FenceLoopPolicy {
  readonly count: number;
  readonly windowMs: number;
}

/** The fence times worth keeping after a new fence at `wallMs`. */
export function recordFence(fences: readonly number[], wallMs: number, policy: FenceLoopPolicy): number[] {
  return [...fences.filter((t) => wallMs - t < policy.windowMs), wallMs].slice(-Math.max(1, policy.count));
}

/** At start: may HA rejoin, or is this host in a fence loop? */
export function fenceLoopVerdict(fences: readonly number[], wallMs: number, policy: FenceLoopPolicy): { loop: false } | { loop: true; recent: number; reason: string } {
  const recent = fences.filter((t) => wallMs - t < policy.windowMs).length;
  if (recent < policy.count) return { loop: false };
  return {
    loop: true,
    recent,
    reason: `this host fenced itself ${recent} times within ${Math.round(policy.windowMs / 1000)} s; HA stays disarmed on this host until an operator runs host.emergency_ha_disable or the window passes`,
  };
}
