import type { HaConfig } from './ha-config.ts';
import { failoverPeer, thisPeer } from './ha-config.ts';
import type { HaModel } from './machine/ha-model.ts';
import { clockSkewSeconds, inTouch, isCommunicationInterrupted } from './partner/communication-state.ts';
import { servingNow } from './machine/witness.ts';

const pad = (n: number): string => String(n).padStart(2, '0');

/** Kea's status-get time format: `%Y-%m-%d %H:%M:%S`, UTC. */
export function statusTime(wallMs: number): string {
  const d = new Date(wallMs);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

/** Kea's heartbeat `date-time`: RFC 1123, e.g. `Thu, 07 Nov 2019 08:49:37 GMT`. */
export const rfc1123 = (wallMs: number): string => new Date(wallMs).toUTCString();

/**
 * One relationship's entry of status-get's `high-availability` list, in Kea's shape: every key of
 * Kea 2.2 with its type (`src/hooks/dhcp/high_availability/ha_service.cc` processStatusGet,
 * `communication_state.cc` getReport, `ha_impl.cc` commandProcessed), plus keys of later Kea
 * (`server-name`, `system-time`, `clock-skew`) and liveset's own (`paused`, `paused-state`,
 * `serving`, `witnesses`). A value that is not known is left out, never `null`.
 *
 * Client-analysis counters are 0: liveset sees no client traffic and behaves as Kea does with
 * `max-unacked-clients` 0 (a partner is failed once communication is interrupted; witnesses guard
 * a split instead). `unacked-clients-left` is therefore Kea's formula with that limit: while
 * communication is interrupted `0 - 0 + 1` = 1, otherwise 0.
 */
export function haStatusEntry(cfg: HaConfig, model: HaModel, at: number): Record<string, unknown> {
  const me = thisPeer(cfg);
  const c = model.partner;
  const local: Record<string, unknown> = {
    role: me.role,
    scopes: model.scopes,
    'server-name': me.name,
    state: model.state,
    paused: model.pause.paused,
  };
  if (c.localWallMs !== null) local['system-time'] = statusTime(c.localWallMs);
  if (model.pause.paused) local['paused-state'] = model.state;
  const partner = failoverPeer(cfg);
  const servers: Record<string, unknown> = { local };
  if (cfg.mode !== 'passive-backup' && me.role !== 'backup' && partner !== undefined) {
    const interrupted = isCommunicationInterrupted(c, at, cfg.maxResponseDelay);
    const touch = inTouch(c);
    const remote: Record<string, unknown> = {
      age: touch ? Math.floor((at - c.lastPokeAt) / 1000) : 0,
      'analyzed-packets': 0,
      'communication-interrupted': interrupted,
      'connecting-clients': 0,
      'in-touch': touch,
      'last-scopes': c.partnerScopes,
      'last-state': c.partnerState ?? '',
      role: partner.role,
      'server-name': partner.name,
      'unacked-clients': 0,
      'unacked-clients-left': interrupted ? 1 : 0,
    };
    const skew = clockSkewSeconds(c);
    if (skew !== null) remote['clock-skew'] = skew;
    if (c.partnerWallMs !== null) remote['system-time'] = statusTime(c.partnerWallMs);
    servers['remote'] = remote;
  }
  if (cfg.witness === undefined) return { 'ha-mode': cfg.mode, 'ha-servers': servers };
  const serving = servingNow(model, cfg, at);
  Object.assign(local, { serving: serving.serving, 'serving-reason': serving.reason });
  return { 'ha-mode': cfg.mode, 'ha-servers': servers, witnesses: witnessSummary(cfg, model, at) };
}

/**
 * The witnesses as this server last heard them (an extension; Kea has no witnesses): the latest
 * round's verdict and why, how long our lease lasts, and each witness's last answer. Values not
 * known yet (no round so far, a witness never asked) are left out.
 */
export function witnessSummary(cfg: HaConfig, model: HaModel, at: number): Record<string, unknown> {
  const book = model.witness;
  const last = book?.last ?? null;
  return withoutNulls({
    verdict: last?.verdict ?? null,
    reason: last?.reason ?? null,
    round: last?.id ?? 0,
    answered: last?.answered ?? 0,
    needed: last === null ? null : last.needed,
    'lease-left-ms': book?.leaseUntil == null ? 0 : Math.max(0, book.leaseUntil - at),
    'partner-seen-serving': book?.partnerServing ?? [],
    members: (cfg.witness?.members ?? []).map((w) => {
      const seen = book?.seen[w.name];
      const a = seen?.answer;
      return withoutNulls({
        name: w.name,
        url: w.url,
        'last-round': seen?.round ?? null,
        age: seen === undefined ? null : Math.max(0, Math.floor((at - seen.at) / 1000)),
        answered: a?.answered ?? null,
        'reached-partner': a?.answered === true ? a.reachedPartner : null,
        'partner-state': a?.answered === true ? a.partnerState : null,
        'partner-serving': a?.answered === true ? a.partnerServing : null,
        detail: a === undefined ? null : a.answered ? a.detail : a.reason,
      });
    }),
  });
}

/** status-get leaves unknown values out rather than writing null (as Kea does for its own keys). */
function withoutNulls(o: Record<string, unknown>): Record<string, unknown> {
  for (const k of Object.keys(o)) if (o[k] === null || o[k] === undefined) delete o[k];
  return o;
}
