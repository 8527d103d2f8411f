import { join } from 'node:path';
import { registerBuiltins, type BuiltinHost } from '../../core/commands/builtin-commands.ts';
import { CommandRegistry } from '../../core/commands/command-registry.ts';
import { ok } from '../../core/commands/answer.ts';
import { loadConfigFile } from '../../core/config/load-config.ts';
import { prepareConfig } from '../../core/config/prepare-config.ts';
import { EventBus } from '../../core/events.ts';
import { CalloutRegistry } from '../../core/hooks/callouts.ts';
import { HooksManager } from '../../core/hooks/hooks-manager.ts';
import { PeerUnreachableError, type LibraryHandle } from '../../core/hooks/hook-library.ts';
import type { Clock } from '../../core/clock.ts';
import { silentLogger } from '../../core/logger.ts';
import { SchemaValidator } from '../../core/schema-validator.ts';
import { builtinLibraries } from '../../hook-libs/builtin.ts';
import { memoryStoreFactory } from '../../store/memory-store.ts';
import { registerOperatorCommands, describeRegistry } from '../operator-commands.ts';
import type { DescribedCommand } from '../openrpc.ts';
import { packageDir } from '../package-assets.ts';

/** Time stands still and no timer fires: the libraries register everything and do nothing. */
const stillClock: Clock = { monotonicMs: () => 0, wallMs: () => 0, setTimer: () => ({ cancel() {} }) };

const noHost: BuiltinHost = {
  version: () => ({ version: '', extended: '', report: '' }),
  status: () => ({}),
  configGet: () => ({}),
  configTest: async () => ok(),
  configSet: async () => ok(),
  configReload: async () => ok(),
  configWrite: async () => ok(),
  shutdown: () => undefined,
  witnessProbe: async () => ok(),
  events: new EventBus(),
  subscriptionLimit: () => Infinity,
  faults: undefined,
};

/**
 * Every command a server loading both built-in libraries has, with the library that registers it,
 * found the way a server finds them: the core's commands, then each library's load() on the demo
 * configuration, with a frozen clock, in-memory stores and no network. Nothing is listed by hand,
 * so the reference cannot claim a command no library registers.
 */
export async function builtinCommands(schemaRoot: string = packageDir('schemas')): Promise<DescribedCommand[]> {
  const validator = new SchemaValidator();
  const callouts = new CalloutRegistry();
  const registry = new CommandRegistry(validator, join(schemaRoot, 'commands'), callouts);
  registerBuiltins(registry, noHost);
  registerOperatorCommands(registry);
  const demo = join(packageDir('examples'), 'demo.yaml');
  const prepared = await prepareConfig(loadConfigFile(demo, {}, validator, true), 'server1', builtinLibraries, validator);
  const hooks = new HooksManager(registry, callouts, () => undefined, silentLogger);
  const stores = memoryStoreFactory();
  await hooks.loadAll(prepared.libs, (lib): LibraryHandle => ({
    parameters: lib.parameters,
    serverName: prepared.serverName,
    selfUrl: prepared.listen.href,
    configDir: prepared.loaded.source.dir,
    clock: stillClock,
    logger: silentLogger,
    stores,
    callPeer: async (peer) => {
      throw new PeerUnreachableError(peer.name, 'dry run');
    },
    registerCommand: (spec) => registry.register(spec, lib.library.name),
    registerCallout: (point, fn) => callouts.add(point, lib.library.name, fn),
    registerStatus: () => undefined,
    runCallouts: async () => 'continue',
    publish: () => undefined,
    dispatch: async () => ok(),
  }));
  const described = describeRegistry(registry);
  await hooks.unloadAll();
  return described;
}
