import type { Answer } from '../../core/commands/answer.ts';
import { ok } from '../../core/commands/answer.ts';
import { CommandError, RESULT } from '../../core/errors.ts';
import type { LibraryHandle } from '../../core/hooks/hook-library.ts';
import { PeerUnreachableError } from '../../core/hooks/hook-library.ts';
import { failoverPeer } from './ha-config.ts';
import type { HaService } from './ha-service.ts';
import { peerAddress } from './ha-service.ts';
import { rfc1123, witnessSummary } from './ha-status.ts';
import { inMaintenanceAllowed, maintenanceStartAllowed } from './machine/ha-machine.ts';
import { hexKey, scopeForKey } from './query-filter.ts';
import { servingNow } from './machine/witness.ts';

type Args = Record<string, unknown>;

/** Kea's timeout for the maintenance notifications sent to the partner. */
const NOTIFY_TIMEOUT_MS = 10_000;

const haError = (text: string): CommandError => new CommandError('HA_ERROR', [text], text);

/** Kea's relationship selection: `server-name`, when given, must name a peer of the relationship. */
function checkServerName(service: HaService, args: Args): void {
  const name = args['server-name'];
  if (typeof name === 'string' && !service.cfg.peers.some((p) => p.name === name)) {
    throw new CommandError('HA_UNKNOWN_SERVER', [name], `${name} matches no configured 'server-name'`);
  }
}

function partnerOrThrow(service: HaService) {
  const partner = failoverPeer(service.cfg);
  if (partner === undefined) throw haError(`server ${service.cfg.thisServerName} has no partner in the ${service.cfg.mode} configuration`);
  return partner;
}

async function notifyPartner(handle: LibraryHandle, service: HaService, args: Args): Promise<Answer | PeerUnreachableError> {
  try {
    return await handle.callPeer(peerAddress(partnerOrThrow(service)), 'ha-maintenance-notify', { 'server-name': service.cfg.thisServerName, ...args }, NOTIFY_TIMEOUT_MS);
  } catch (err) {
    if (err instanceof PeerUnreachableError) return err;
    throw err;
  }
}

async function maintenanceStart(handle: LibraryHandle, service: HaService): Promise<Answer> {
  const state = service.current.state;
  const refused = (now: string) => haError(`Unable to transition the server from the ${now} to partner-in-maintenance state.`);
  if (!maintenanceStartAllowed(state)) throw refused(state);
  const reply = await notifyPartner(handle, service, { cancel: false, state });
  const at = service.now();
  // The state may have moved while the partner was asked (another maintenance-start, a partner
  // notification): the machine decides on the state it is in now, and so does the answer.
  const now = service.current.state;
  if (reply instanceof PeerUnreachableError || reply.result === RESULT.ERROR) {
    if (!maintenanceStartAllowed(now)) throw refused(now);
    service.apply({ type: 'maintenance-start', at, outcome: 'partner-unavailable' });
    return ok('Server is now in the partner-down state as its partner appears to be offline for maintenance.');
  }
  if (reply.result === RESULT.SUCCESS) {
    if (!maintenanceStartAllowed(now)) {
      // The partner went in-maintenance for a request this server no longer honours: release it,
      // unless it is the maintenance this server is already in with it.
      if (now !== 'partner-in-maintenance') await notifyPartner(handle, service, { cancel: true, state: now }).catch(() => undefined);
      throw refused(now);
    }
    service.apply({ type: 'maintenance-start', at, outcome: 'accepted' });
    return ok('Server is now in the partner-in-maintenance state and its partner is in-maintenance state. The partner can be now safely shut down.');
  }
  throw haError(
    `Unable to transition to the partner-in-maintenance state. The partner server responded with the following message to the ha-maintenance-notify command: ${reply.text ?? ''} (error code ${reply.result}).`,
  );
}

async function maintenanceCancel(handle: LibraryHandle, service: HaService): Promise<Answer> {
  const model = service.current;
  if (model.state !== 'partner-in-maintenance') {
    throw haError('Unable to cancel maintenance request because the server is not in the partner-in-maintenance state.');
  }
  const prev = model.previousState;
  const target = prev === null || prev === 'partner-in-maintenance' ? 'waiting' : prev;
  const reply = await notifyPartner(handle, service, { cancel: true, state: target });
  const fail = (msg: string): CommandError =>
    haError(`Unable to cancel maintenance. The partner server responded with the following message to the ha-maintenance-notify command: ${msg}.`);
  if (reply instanceof PeerUnreachableError) throw fail(reply.message);
  if (reply.result !== RESULT.SUCCESS) throw fail(reply.text ?? `result ${reply.result}`);
  const args = reply.arguments as Args | undefined;
  const partnerState = typeof args?.['state'] === 'string' ? args['state'] : undefined;
  service.apply({ type: 'maintenance-cancel', at: service.now(), ...(partnerState !== undefined ? { partnerState } : {}) });
  return ok('Server maintenance successfully canceled.');
}

function maintenanceNotify(service: HaService, args: Args): Answer {
  checkServerName(service, args);
  const cancel = args['cancel'] === true;
  const state = service.current.state;
  const partnerState = typeof args['state'] === 'string' ? args['state'] : undefined;
  if (cancel) {
    if (state !== 'in-maintenance') throw haError('Unable to cancel the maintenance for the server not in the in-maintenance state.');
    const m = service.apply({ type: 'maintenance-notify', at: service.now(), cancel: true, ...(partnerState !== undefined ? { partnerState } : {}) });
    return ok('Server maintenance canceled.', { state: m.state });
  }
  if (!inMaintenanceAllowed(state)) throw new CommandError('HA_MAINTENANCE_NOT_ALLOWED', [state]);
  service.apply({ type: 'maintenance-notify', at: service.now(), cancel: false, ...(partnerState !== undefined ? { partnerState } : {}) });
  return ok('Server is in-maintenance state.');
}

function scopes(service: HaService, args: Args): Answer {
  checkServerName(service, args);
  const wanted = args['scopes'] as string[];
  const bad = wanted.find((s) => !service.cfg.peers.some((p) => p.name === s));
  if (bad !== undefined) throw haError(`invalid server name specified '${bad}' while enabling/disabling HA scopes`);
  service.apply({ type: 'scopes-set', at: service.now(), scopes: wanted });
  return ok('New HA scopes configured.');
}

async function sync(service: HaService, args: Args): Promise<Answer> {
  const name = args['server-name'] as string;
  const peer = service.cfg.peers.find((p) => p.name === name);
  if (peer === undefined) throw haError(`no configuration specified for server ${name}`);
  if (peer.name === service.cfg.thisServerName) throw haError(`'${name}' points to local server but should point to a partner`);
  const maxPeriod = typeof args['max-period'] === 'number' ? args['max-period'] : 0;
  const r = await service.synchronize(peer.name, service.cfg.syncTimeout, maxPeriod);
  if (!r.ok) throw haError(r.reason ?? 'synchronisation failed');
  return ok('Lease database synchronization complete.');
}

function query(service: HaService, args: Args): Answer {
  checkServerName(service, args);
  const raw = args['key'] as string;
  const bytes = args['key-format'] === 'hex' ? hexKey(raw) : new TextEncoder().encode(raw);
  if (bytes === undefined) throw new CommandError('INVALID_ARGUMENTS', ['key'], `arguments.key: '${raw}' is not hex bytes (key-format hex)`);
  const m = service.current;
  const scope = scopeForKey(service.cfg, bytes);
  // Evaluated at this instant: a witness step-down holds even if a timer is late.
  const serve = servingNow(m, service.cfg, service.now()).scopes.includes(scope);
  return ok(serve ? 'This server serves the key.' : 'This server does not serve the key.', {
    serve,
    scope,
    state: m.state,
    scopes: m.scopes,
    'service-enabled': m.serviceEnabled,
  });
}

/** Registers the ha commands; each answers with Kea's texts and result codes. */
export function registerHaCommands(handle: LibraryHandle, service: HaService): void {
  const reg = (name: string, handler: (args: Args) => Answer | Promise<Answer>): void => handle.registerCommand({ name, handler });
  reg('ha-heartbeat', (args) => {
    checkServerName(service, args);
    const cfg = service.cfg;
    if (cfg.witness === undefined) {
      const m = service.current;
      return ok('HA peer status returned.', { state: m.state, 'date-time': rfc1123(service.wallMs()), scopes: m.scopes, 'unsent-update-count': 0 });
    }
    // Our partner's heartbeat names it: it may serve until max-response-delay after this.
    if (args['server-name'] === failoverPeer(cfg)?.name) service.apply({ type: 'partner-heard', at: service.now() });
    const m = service.current;
    const serving = servingNow(m, cfg, service.now());
    return ok('HA peer status returned.', {
      state: m.state,
      'date-time': rfc1123(service.wallMs()),
      scopes: m.scopes,
      'unsent-update-count': 0,
      serving: serving.serving,
      witnesses: witnessSummary(cfg, m, service.now()),
    });
  });
  reg('ha-continue', (args) => {
    checkServerName(service, args);
    const wasPaused = service.current.pause.paused;
    service.apply({ type: 'continue', at: service.now() });
    return ok(wasPaused ? 'HA state machine continues.' : 'HA state machine is not paused.');
  });
  reg('ha-reset', (args) => {
    checkServerName(service, args);
    if (service.current.state === 'waiting') return ok('HA state machine already in WAITING state.');
    service.apply({ type: 'reset', at: service.now() });
    return ok('HA state machine reset.');
  });
  reg('ha-maintenance-start', () => maintenanceStart(handle, service));
  reg('ha-maintenance-cancel', () => maintenanceCancel(handle, service));
  reg('ha-maintenance-notify', (args) => maintenanceNotify(service, args));
  reg('ha-scopes', (args) => scopes(service, args));
  reg('ha-sync', (args) => sync(service, args));
  reg('ha-sync-complete-notify', (args) => {
    checkServerName(service, args);
    service.apply({ type: 'sync-complete-notified', at: service.now() });
    return ok('Server successfully notified about the synchronization completion.');
  });
  reg('ha-query', (args) => query(service, args));
}
