import { readFileSync } from 'node:fs';
import { ok } from '../core/commands/answer.ts';
import type { CommandRegistry } from '../core/commands/command-registry.ts';
import { openRpcDocument, type DescribedCommand } from './openrpc.ts';
import { packageDir } from './package-assets.ts';

/** The package version the OpenRPC document names. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(packageDir('package.json'), 'utf8')) as { version: string }).version;
}

/** Every command the registry holds, with its owner and schema. */
export function describeRegistry(registry: CommandRegistry): DescribedCommand[] {
  return registry.names().map((name) => {
    const c = registry.get(name);
    if (!c) throw new Error(`command ${name} vanished from the registry`);
    return { name, library: c.owner, schema: c.schema };
  });
}

/** `rpc.discover` (OpenRPC's service discovery): the commands this server has loaded right now. */
export function registerOperatorCommands(registry: CommandRegistry): void {
  const version = packageVersion();
  registry.register({ name: 'rpc.discover', handler: () => ok(undefined, openRpcDocument(describeRegistry(registry), version)) }, 'core');
}
