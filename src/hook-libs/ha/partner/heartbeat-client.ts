import type { LibraryHandle, PeerAddress } from '../../../core/hooks/hook-library.ts';
import type { PartnerState } from '../machine/ha-state.ts';
import { isPartnerState } from '../machine/ha-state.ts';

/** A heartbeat answer that passed Kea's checks, or why it did not. */
export type HeartbeatResult =
  | { readonly ok: true; readonly state: PartnerState; readonly partnerWallMs: number; readonly scopes: string[]; readonly unsentUpdateCount: number }
  /** `communication`: no answer (Kea's HA_HEARTBEAT_COMMUNICATIONS_FAILED); `answer`: an answer that failed the checks (HA_HEARTBEAT_FAILED). */
  | { readonly ok: false; readonly kind: 'communication' | 'answer'; readonly reason: string };

/**
 * Sends `ha-heartbeat` to the partner through its control channel and checks the answer as Kea
 * does: result 0, arguments a map, `state` a known label, `date-time` parseable; `scopes` and
 * `unsent-update-count` optional. Never throws.
 */
export async function sendHeartbeat(handle: LibraryHandle, peer: PeerAddress, myName: string, timeoutMs: number): Promise<HeartbeatResult> {
  let answer;
  try {
    answer = await handle.callPeer(peer, 'ha-heartbeat', { 'server-name': myName }, timeoutMs);
  } catch (err) {
    return { ok: false, kind: 'communication', reason: err instanceof Error ? err.message : String(err) };
  }
  if (answer.result !== 0) return { ok: false, kind: 'answer', reason: `partner answered ${answer.result}: ${answer.text ?? ''}` };
  const args = answer.arguments;
  if (args === null || typeof args !== 'object' || Array.isArray(args)) return { ok: false, kind: 'answer', reason: 'heartbeat answer has no arguments map' };
  const a = args as Record<string, unknown>;
  if (!isPartnerState(a['state'])) return { ok: false, kind: 'answer', reason: `heartbeat answer has an unknown state ${JSON.stringify(a['state'])}` };
  const dateTime = a['date-time'];
  const partnerWallMs = typeof dateTime === 'string' ? Date.parse(dateTime) : NaN;
  if (Number.isNaN(partnerWallMs)) return { ok: false, kind: 'answer', reason: `heartbeat answer has a bad date-time ${JSON.stringify(dateTime)}` };
  const scopes = Array.isArray(a['scopes']) ? a['scopes'].filter((s): s is string => typeof s === 'string') : [];
  const unsent = a['unsent-update-count'];
  if (unsent !== undefined && !Number.isInteger(unsent)) return { ok: false, kind: 'answer', reason: 'unsent-update-count is not an integer' };
  return { ok: true, state: a['state'], partnerWallMs, scopes, unsentUpdateCount: (unsent as number | undefined) ?? 0 };
}
