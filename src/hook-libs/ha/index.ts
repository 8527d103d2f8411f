import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { HookLibrary, LibraryHandle } from '../../core/hooks/hook-library.ts';
import { HOOKS_API_VERSION } from '../../core/hooks/hook-library.ts';
import schema from '../../../schemas/libraries/ha.schema.json' with { type: 'json' };
import { registerHaCommands } from './ha-commands.ts';
import { haMembers, haWarnings, isWitnessOnly, parseHaConfig } from './ha-config-parser.ts';
import { HaService } from './ha-service.ts';
import { thisPeer, type HaConfig } from './ha-config.ts';
import { haStatusEntry } from './ha-status.ts';
import { readPeerTls } from '../../core/peer-tls.ts';

let service: HaService | undefined;

/** Reads each peer's basic-auth-password-file (relative to the configuration file) into its password. */
function withPasswordFiles(config: HaConfig, configDir: string): HaConfig {
  return {
    ...config,
    peers: config.peers.map((p) => {
      const file = p.basicAuth?.passwordFile;
      if (!p.basicAuth || file === undefined) return p;
      const path = resolve(configDir, file);
      let password: string;
      try {
        password = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
      } catch (err) {
        throw new Error(`bad password file in peer '${p.name}': cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      return { ...p, basicAuth: { user: p.basicAuth.user, password } };
    }),
  };
}

/**
 * Reads each https peer's TLS files (Kea's trust-anchor, cert-file, key-file) and checks Kea's
 * require-client-certs against this server's listener: with https peers, only a listener that
 * demands client certificates keeps a peer without one from reaching the heartbeat.
 */
function withTlsFiles(config: HaConfig, handle: LibraryHandle): HaConfig {
  const me = thisPeer(config);
  if (me.url.startsWith('https:') && config.requireClientCerts !== false && handle.listenerTls?.certRequired !== true) {
    throw new Error(`require-client-certs is true (Kea's default) but this server's listener does not demand client certificates: set server.tls.cert-required: true, or require-client-certs: false`);
  }
  return {
    ...config,
    peers: config.peers.map((p) => (p.tlsFiles ? { ...p, tls: readPeerTls(handle.configDir, p.tlsFiles, `bad TLS config for server ${p.name}`) } : p)),
  };
}

function logWarnings(handle: LibraryHandle, parameters: unknown): void {
  for (const w of haWarnings(parameters)) {
    handle.logger.warn({ msgId: 'HA_MAX_UNACKED_CLIENTS_IGNORED', setting: `high-availability${w.pointer.replace(/^\/high-availability/, '').replace(/\/(\d+)/g, '[$1]').replaceAll('/', '.')}` }, w.message);
  }
}

/**
 * The `ha` hook library: Kea's High Availability for a pair of liveset servers (plus backups).
 * Thin entry: parse the parameters, start the service, register commands, status and events.
 */
export const library: HookLibrary = {
  name: 'ha',
  apiVersion: HOOKS_API_VERSION,
  parametersSchema: schema,
  members: haMembers,
  check(parameters, serverName) {
    if (isWitnessOnly(parameters, serverName)) return [];
    const r = parseHaConfig(parameters, serverName);
    return r.ok ? [] : r.problems;
  },
  warnings(parameters, serverName) {
    return isWitnessOnly(parameters, serverName) ? [] : haWarnings(parameters);
  },
  load(handle: LibraryHandle) {
    if (isWitnessOnly(handle.parameters, handle.serverName)) {
      // A witness of this relationship: the core's ha-witness-probe is all it needs.
      handle.logger.info({ msgId: 'HA_WITNESS_ONLY', server: handle.serverName }, `${handle.serverName} is a witness of this relationship and runs no HA service`);
      handle.registerStatus('high-availability', () => [{ witness: handle.serverName }]);
      return;
    }
    const r = parseHaConfig(handle.parameters, handle.serverName);
    if (!r.ok) throw new Error(r.problems.join('; '));
    logWarnings(handle, handle.parameters);
    const config = withTlsFiles(withPasswordFiles(r.config, handle.configDir), handle);
    // What partners send this server (its own peer entry, as Kea's dedicated listener checks):
    // the peer-only commands (heartbeats, maintenance and sync notifications) then need it.
    const own = thisPeer(config).basicAuth;
    if (own) handle.registerPeerCredential?.(own.user, own.password);
    const s = new HaService(handle, config);
    registerHaCommands(handle, s);
    handle.registerStatus('high-availability', () => [haStatusEntry(s.cfg, s.current, s.now())]);
    s.start();
    service = s;
  },
  reconfigure(parameters) {
    // Only a running HA service can keep its state; a witness-only server restarts (it has none).
    const s = service;
    if (s === undefined) return false;
    const r = parseHaConfig(parameters, s.handle.serverName);
    if (!r.ok) return false;
    let next: HaConfig;
    try {
      next = withTlsFiles(withPasswordFiles(r.config, s.handle.configDir), s.handle);
    } catch {
      return false; // the restart reports the unreadable file as a load error
    }
    if (!s.reconfigure(next)) return false;
    logWarnings(s.handle, parameters);
    return true;
  },
  unload() {
    service?.stop();
    service = undefined;
  },
};
