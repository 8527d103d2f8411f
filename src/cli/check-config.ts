import { parseArgs } from 'node:util';
import { ConfigError } from '../core/errors.ts';
import { LivesetServer } from '../core/server.ts';
import { builtinLibraries } from '../hook-libs/builtin.ts';

/** `liveset check-config FILE [--server NAME]`: exit 0 if valid, else 1 with every problem (like kea-dhcp4 -t). */
export async function checkConfigCli(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: { server: { type: 'string', short: 's' } }, allowPositionals: true });
  const file = positionals[0];
  if (!file || positionals.length > 1) {
    process.stderr.write('usage: liveset check-config FILE [--server NAME]\n');
    return 2;
  }
  try {
    const prepared = await LivesetServer.check(file, values.server, process.env, builtinLibraries);
    for (const p of prepared) {
      const libs = p.libs.map((l) => l.library.name).join(', ') || 'none';
      process.stdout.write(`${file}: ${p.serverName}: OK (listens on ${p.listen.href}, libraries: ${libs})\n`);
    }
    return 0;
  } catch (err) {
    const lines = err instanceof ConfigError ? err.problems : [(err as Error).message];
    process.stderr.write(`${lines.join('\n')}\n${file}: ${lines.length} problem${lines.length === 1 ? '' : 's'} found\n`);
    return 1;
  }
}
