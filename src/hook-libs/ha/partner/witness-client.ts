import type { LibraryHandle, PeerAddress } from '../../../core/hooks/hook-library.ts';
import type { WitnessConfig } from '../ha-config.ts';
import { isPartnerState, serviceEnabledIn } from '../machine/ha-state.ts';
import type { WitnessAnswer } from '../machine/witness.ts';

/** What a probe round asks each witness. */
export interface WitnessProbeRequest {
  /** The partner to reach, with the credentials it expects. */
  readonly partner: PeerAddress;
  /** This server's peer name (a fenced caller is refused). */
  readonly caller: string;
  /** Our whole budget for the round trip; the witness gets part of it for its own heartbeat. */
  readonly timeoutMs: number;
  /** How long a witness that cannot reach the partner refuses the partner's own probes. */
  readonly fenceMs: number;
}

/**
 * A witness, whatever it is. The liveset implementation below asks another liveset server; an
 * etcd witness would answer from leases (we renewed ours, the partner's is alive or expired) and
 * meet the same contract: resolve within the timeout, never throw.
 */
export interface Witness {
  readonly name: string;
  probe(request: WitnessProbeRequest): Promise<WitnessAnswer>;
}

/** What a partner's heartbeat answer says it serves: `serving` when it reports it, else its state's scopes. */
function servedScopes(heartbeat: Record<string, unknown>): string[] {
  const scopes = Array.isArray(heartbeat['scopes']) ? heartbeat['scopes'].filter((s): s is string => typeof s === 'string') : [];
  const serving = heartbeat['serving'];
  if (typeof serving === 'boolean') return serving ? scopes : [];
  const state = heartbeat['state'];
  return isPartnerState(state) && state !== 'unavailable' && serviceEnabledIn(state) ? scopes : [];
}

/** A liveset server as a witness: the core's `ha-witness-probe` command. */
export function livesetWitness(handle: LibraryHandle, cfg: WitnessConfig): Witness {
  const address: PeerAddress = { name: cfg.name, url: cfg.url, ...(cfg.basicAuth ? { auth: cfg.basicAuth } : {}) };
  return {
    name: cfg.name,
    async probe(req) {
      const auth = req.partner.auth;
      const args = {
        url: req.partner.url,
        'server-name': req.partner.name,
        caller: req.caller,
        // Half for the witness's heartbeat, half for the two legs of our own request (the
        // witness accepts at most Kea's 10 s peer timeout).
        'timeout-ms': Math.min(10_000, Math.max(1, Math.floor(req.timeoutMs / 2))),
        'fence-ms': req.fenceMs,
        ...(auth ? { 'basic-auth-user': auth.user, 'basic-auth-password': auth.password } : {}),
      };
      let answer;
      try {
        answer = await handle.callPeer(address, 'ha-witness-probe', args, req.timeoutMs);
      } catch (err) {
        return { answered: false, reason: err instanceof Error ? err.message : String(err) };
      }
      if (answer.result !== 0) return { answered: false, reason: `witness answered ${answer.result}: ${answer.text ?? ''}` };
      const a = (answer.arguments ?? {}) as Record<string, unknown>;
      if (a['reached'] !== true) return { answered: true, reachedPartner: false, partnerState: null, partnerServing: [], detail: String(a['reason'] ?? 'partner unreachable') };
      const hb = (a['heartbeat'] ?? {}) as Record<string, unknown>;
      const state = isPartnerState(hb['state']) ? hb['state'] : null;
      return { answered: true, reachedPartner: true, partnerState: state, partnerServing: servedScopes(hb), detail: `partner answered in ${String(a['elapsed-ms'])} ms${state ? ` (${state})` : ''}` };
    },
  };
}
