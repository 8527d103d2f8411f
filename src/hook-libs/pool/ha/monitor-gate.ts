/**
 * Whether the master's monitor may run its restart pass now (spec §4.2), PURE. A pass declares
 * every host missing from the liveset dead and restarts its protected VMs, so it must not run while
 * the liveset is still filling up again:
 *
 * - after a master change, until every live host disabled by the transition has rejoined this master,
 *   or the enable-join timeout has passed (xapi waits for the live hosts to re-enable, with the
 *   startup timeout);
 * - after the cluster stack lost and regained its statefile (under etcd: the etcd majority) for the
 *   whole pool, for T: during such an outage nobody can be declared dead, but etcd may still revoke
 *   leases whose expiry its last leader had proposed and commit them when the majority returns, so a
 *   host's key can vanish just as it takes a new lease (etcd-rules `leaseGoneAction`). A host still
 *   missing T after the outage ended is dead like any host silent for T.
 */
export interface MonitorGateInput {
  readonly now: number;
  /** When this host last became master; undefined if it has been master since the pool started. */
  readonly transitionAt: number | undefined;
  /** Hosts in the liveset that the master change disabled and that have not rejoined yet. */
  readonly waitingForRejoin: number;
  /** When the pool-wide statefile (etcd majority) outage last ended; undefined if none. */
  readonly outageEndedAt: number | undefined;
  readonly enableJoinMs: number;
  readonly heartbeatTimeoutMs: number;
}

export type MonitorGate = { readonly kind: 'pass' } | { readonly kind: 'wait'; readonly why: 'rejoin' | 'outage' };

export function monitorGate(i: MonitorGateInput): MonitorGate {
  if (i.waitingForRejoin > 0 && i.transitionAt !== undefined && i.now - i.transitionAt < i.enableJoinMs) return { kind: 'wait', why: 'rejoin' };
  if (i.outageEndedAt !== undefined && i.now - i.outageEndedAt < i.heartbeatTimeoutMs) return { kind: 'wait', why: 'outage' };
  return { kind: 'pass' };
}
