/**
 * The etcd stack's survival rule, the counterpart of xhad's statefile rules (spec/xapi-ha.md §8),
 * PURE. etcd plays the statefile's part: a host that keeps its lease is in the liveset. A host that
 * loses its lease stops acting at once (the lease guard sees to that); whether it also fences depends
 * on whether etcd is down for everyone or only for it, which is xhad's rule 2 in etcd's terms:
 *
 * - a peer reached etcd at a moment when this host's own attempts were failing, both before and
 *   after it → etcd was up and this host alone is cut off: it fences;
 * - it hears no peer at all → it cannot tell an etcd outage from being isolated: it fences, as a
 *   host that sees neither the statefile nor any peer does under xhad;
 * - otherwise etcd is down for everyone heard (majority lost): nobody fences, nobody is master (no
 *   lease, no lock, and no fenced write can commit), and the pool recovers by itself when etcd's
 *   majority returns — the etcd form of HA_STATEFILE_LOST.
 *
 * "Both before and after" is what tells the cases apart, each by at least `minRunMs`: one unlucky
 * call just before etcd goes down is not taken for a host cut off, and neither is one just after it
 * comes back. When etcd loses its majority, every host's last success is from before the loss, so
 * no peer success falls inside anyone's run of failures. When etcd comes back, the first host to
 * reach it must not make the others fence: their attempts succeed too within a keepalive interval or
 * so (a member still electing its leader, a client still reconnecting — seen on a loaded machine:
 * one failed attempt 250 ms after a peer's success made a host fence), so no run of own failures
 * that long follows that success.
 */
export interface PeerView {
  readonly uuid: string;
  /** When its last network heartbeat arrived (own monotonic clock). */
  readonly heardAt: number;
  /** When it last completed an etcd call, on this host's clock (heardAt − the age it reported); undefined if never. */
  readonly etcdOkAt: number | undefined;
}

export type EtcdVerdict =
  | { readonly kind: 'ok' }
  | { readonly kind: 'outage'; readonly reason: string }
  | { readonly kind: 'fence'; readonly reason: string };

export interface EtcdVerdictInput {
  readonly leaseHeld: boolean;
  /** Send times of this host's failed etcd attempts since its last success, ascending. */
  readonly ownFailures: readonly number[];
  readonly peers: readonly PeerView[];
  readonly now: number;
  /** A peer not heard for this long no longer counts (xhad's heartbeat timeout T1). */
  readonly heartbeatTimeoutMs: number;
  /** Tolerance for message delay and timer jitter when comparing times across hosts. */
  readonly slackMs: number;
  /**
   * How long this host must already have been failing when a peer succeeded, for that success to
   * prove it cut off. One failed call proves little (a dead member picked first, a retry budget
   * spent); a run of failures as long as a keepalive interval while others get through does.
   */
  readonly minRunMs: number;
}

export function etcdVerdict(input: EtcdVerdictInput): EtcdVerdict {
  if (input.leaseHeld) return { kind: 'ok' };
  const heard = input.peers.filter((p) => input.now - p.heardAt <= input.heartbeatTimeoutMs);
  if (heard.length === 0) {
    return { kind: 'fence', reason: 'lost the etcd lease and hears no other host: isolated from etcd and from the pool' };
  }
  const failures = input.ownFailures;
  const reachedWhileFailing = heard.filter((p) => {
    const at = p.etcdOkAt;
    if (at === undefined) return false;
    const before = failures.some((f) => f <= at - Math.max(input.slackMs, input.minRunMs));
    const after = failures.some((f) => f >= at + Math.max(input.slackMs, input.minRunMs));
    return before && after;
  });
  if (reachedWhileFailing.length > 0) {
    const names = reachedWhileFailing.map((p) => p.uuid).sort().join(', ');
    return { kind: 'fence', reason: `lost the etcd lease while ${names} still reached etcd: this host alone is cut off from etcd` };
  }
  return {
    kind: 'outage',
    reason: `no lease, and no host heard (${heard.map((p) => p.uuid).sort().join(', ')}) has reached etcd since this host's attempts began failing: etcd looks down for everyone; nobody fences and nobody is master until it returns`,
  };
}

export type LeaseGoneAction =
  | { readonly kind: 'renew'; readonly reason: string }
  | { readonly kind: 'fence'; readonly reason: string };

/**
 * etcd answers again and says this host's lease is gone. A lease ends only when its keepalives stop
 * reaching the leader for TTL, so normally the other hosts have already dropped this host from the
 * liveset and its workloads are being restarted elsewhere: it must fence, as a host the pool treated
 * as dead does under xhad. One case is different: while etcd had no majority, a leader that had not
 * yet stepped down proposed the revocation and committed it when the majority came back. The host
 * had judged that period an outage for everyone (no peer reached etcd while its own attempts were
 * failing), so it was not acting and nobody could have acted on its death meanwhile; it takes a new
 * lease and rejoins, which is how the pool "recovers by itself when the majority returns".
 * `verdict` must be evaluated with what is known now (lease not held), not taken from the last tick.
 */
export function leaseGoneAction(verdict: EtcdVerdict, ownFailures: readonly number[], why: string): LeaseGoneAction {
  if (verdict.kind === 'outage' && ownFailures.length > 0) {
    return { kind: 'renew', reason: `${why}: it expired while etcd had no majority (${verdict.reason}); taking a new lease instead of fencing` };
  }
  if (verdict.kind === 'fence') return { kind: 'fence', reason: `${why}: ${verdict.reason}` };
  return { kind: 'fence', reason: `${why} while etcd answers: the other hosts have treated this host as dead` };
}
