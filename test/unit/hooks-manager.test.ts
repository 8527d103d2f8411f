import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { CommandRegistry } from '../../src/core/commands/command-registry.ts';
import { CalloutRegistry } from '../../src/core/hooks/callouts.ts';
import { HooksManager } from '../../src/core/hooks/hooks-manager.ts';
import { SchemaValidator } from '../../src/core/schema-validator.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { systemClock } from '../../src/core/clock.ts';
import { memoryStoreFactory } from '../../src/store/memory-store.ts';
import type { HookLibrary, LibraryHandle } from '../../src/core/hooks/hook-library.ts';
import type { ResolvedLibrary } from '../../src/core/hooks/library-resolution.ts';
import { library as failing } from '../fixtures/failing-library.mjs';
import { library as greeter } from '../../examples/libraries/greeter.mjs';

const schemaDir = fileURLToPath(new URL('../../schemas/commands/', import.meta.url));

function harness() {
  const callouts = new CalloutRegistry();
  const registry = new CommandRegistry(new SchemaValidator(), schemaDir, callouts);
  const status = new Map<string, () => unknown>();
  const manager = new HooksManager(registry, callouts, (keys) => { for (const k of keys) status.delete(k); }, silentLogger);
  const events: string[] = [];
  const handleFor = (lib: ResolvedLibrary, footprint: { statusKeys: Set<string> }): LibraryHandle => ({
    parameters: lib.parameters,
    serverName: 's1',
    selfUrl: 'http://127.0.0.1:1/',
    configDir: '.',
    clock: systemClock,
    logger: silentLogger,
    stores: memoryStoreFactory(),
    callPeer: () => Promise.reject(new Error('no peers here')),
    registerCommand: (spec) => registry.register(spec, lib.library.name),
    registerCallout: (point, fn) => callouts.add(point, lib.library.name, fn),
    registerStatus: (key, fn) => {
      status.set(key, fn);
      footprint.statusKeys.add(key);
    },
    runCallouts: (point, args) => callouts.run(point, args),
    publish: (event) => void events.push(event),
    dispatch: () => Promise.reject(new Error('unused')),
  });
  return { registry, callouts, status, manager, handleFor, events };
}

test('a library whose load() throws leaves nothing behind, and the ones before it are unloaded', async () => {
  const h = harness();
  const order: string[] = [];
  const tracking: HookLibrary = {
    ...(greeter as HookLibrary),
    unload: () => void order.push('greeter unloaded'),
  };
  const libs: ResolvedLibrary[] = [
    { index: 0, library: tracking, parameters: { greeting: 'Hi', audit: true } },
    { index: 1, library: failing as HookLibrary, parameters: { reason: 'no device' } },
  ];
  await assert.rejects(h.manager.loadAll(libs, h.handleFor), /library 'failing' failed to load: no device/);
  assert.deepEqual(h.registry.names(), []);
  assert.equal(h.callouts.has('command_received'), false);
  assert.equal(h.callouts.has('command_processed'), false);
  assert.deepEqual([...h.status.keys()], []);
  assert.deepEqual(order, ['greeter unloaded']);
  assert.deepEqual(h.manager.names(), []);
});

test('libraries unload in reverse order and take their commands with them', async () => {
  const h = harness();
  const order: string[] = [];
  const make = (name: string): HookLibrary => ({
    name,
    apiVersion: 1,
    parametersSchema: { type: 'object' },
    load: (handle) => handle.registerCommand({ name: `${name}-cmd`, schema: { title: `${name}-cmd`, description: 'x', arguments: { type: 'object' } }, handler: () => ({ result: 0 }) }),
    unload: () => void order.push(name),
  });
  await h.manager.loadAll([{ index: 0, library: make('a'), parameters: {} }, { index: 1, library: make('b'), parameters: {} }], h.handleFor);
  assert.deepEqual(h.registry.names(), ['a-cmd', 'b-cmd']);
  await h.manager.unloadAll();
  assert.deepEqual(order, ['b', 'a']);
  assert.deepEqual(h.registry.names(), []);
});
