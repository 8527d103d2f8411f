import { readFileSync, readdirSync } from 'node:fs';
import YAML from 'yaml';
import { basename, join } from 'node:path';
import { openRpcDocument } from '../openrpc.ts';
import { packageDir } from '../package-assets.ts';
import { packageVersion } from '../operator-commands.ts';
import { builtinCommands } from './dry-run-registry.ts';
import { commandReference } from './command-reference.ts';
import { configReference } from './config-reference.ts';

/** The generated files, by path relative to docs/. */
export async function generateReference(schemaRoot: string = packageDir('schemas')): Promise<Map<string, string>> {
  const read = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const libDir = join(schemaRoot, 'libraries');
  const libraries = readdirSync(libDir).filter((f) => f.endsWith('.schema.json')).sort()
    .map((f) => ({ name: basename(f, '.schema.json'), schema: read(join(libDir, f)) }));
  const exampleDir = packageDir('examples');
  const examples = readdirSync(exampleDir).filter((f) => f.endsWith('.yaml')).sort().map((f) => YAML.parse(readFileSync(join(exampleDir, f), 'utf8')) as unknown);
  const commands = await builtinCommands(schemaRoot);
  return new Map([
    ['reference/configuration.md', configReference(read(join(schemaRoot, 'liveset.schema.json')), libraries, examples)],
    ['reference/commands.md', commandReference(commands)],
    ['openrpc.json', `${JSON.stringify(openRpcDocument(commands, packageVersion()), null, 2)}\n`],
  ]);
}
