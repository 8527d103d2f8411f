import type { HookLibrary, LibraryHandle } from '../../core/hooks/hook-library.ts';
import { HOOKS_API_VERSION } from '../../core/hooks/hook-library.ts';
import schema from '../../../schemas/libraries/ha.schema.json' with { type: 'json' };
import { registerHaCommands } from './ha-commands.ts';
import { haMembers, isWitnessOnly, parseHaConfig } from './ha-config-parser.ts';
import { HaService } from './ha-service.ts';
import { haStatusEntry } from './ha-status.ts';

let service: HaService | undefined;

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
  load(handle: LibraryHandle) {
    if (isWitnessOnly(handle.parameters, handle.serverName)) {
      // A witness of this relationship: the core's ha-witness-probe is all it needs.
      handle.logger.info({ msgId: 'HA_WITNESS_ONLY', server: handle.serverName }, `${handle.serverName} is a witness of this relationship and runs no HA service`);
      handle.registerStatus('high-availability', () => [{ witness: handle.serverName }]);
      return;
    }
    const r = parseHaConfig(handle.parameters, handle.serverName);
    if (!r.ok) throw new Error(r.problems.join('; '));
    const s = new HaService(handle, r.config);
    registerHaCommands(handle, s);
    handle.registerStatus('high-availability', () => [haStatusEntry(r.config, s.current, s.now())]);
    s.start();
    service = s;
  },
  unload() {
    service?.stop();
    service = undefined;
  },
};
