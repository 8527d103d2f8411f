import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { arch, platform, release } from 'node:os';

import { distProblem } from './build-check.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * True when this module runs as TypeScript source (tests and benchmarks through tsx). Servers are
 * still started from the compiled dist/, so what is tested is what ships.
 */
const FROM_SOURCE = import.meta.url.endsWith('.ts');

/**
 * The compiled CLI entry that child servers run: the bundle (dist/bundle/main.js, see
 * scripts/bundle.mjs), or the main.js beside this module when that is itself compiled.
 */
export const MAIN_SCRIPT = fileURLToPath(new URL(FROM_SOURCE ? '../../dist/bundle/main.js' : './main.js', import.meta.url));

let checked = false;

/** Run from source, refuses to start dist/ when it is missing or older than src/, with the fix in the message. */
export function assertBuilt(): void {
  if (!FROM_SOURCE || checked) return;
  const problem = distProblem(REPO_ROOT);
  if (problem) throw new Error(`liveset: ${problem}`);
  checked = true;
}

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
};

/** Version texts for version-get and build-report. */
export function versionInfo(): { version: string; extended: string; report: string } {
  const deps = Object.entries(pkg.dependencies).map(([n, v]) => `${n} ${v}`).join(', ');
  return {
    version: pkg.version,
    extended: `liveset ${pkg.version} on Node.js ${process.version} (${platform()} ${arch()})`,
    report: [
      `liveset ${pkg.version}`,
      `runtime: Node.js ${process.version}, ${platform()} ${release()} ${arch()}`,
      `dependencies: ${deps}`,
      'built-in hook libraries: ha, pool',
      'wire formats: kea control channel (POST /), JSON-RPC 2.0 (POST /jsonrpc, WebSocket /ws), XenAPI JSON-RPC',
    ].join('\n'),
  };
}

/** How `serve` children are started: the same Node.js running the compiled CLI. */
export function serveCommand(configFile: string, server: string, extra: readonly string[] = []): { cmd: string; args: string[] } {
  return { cmd: process.execPath, args: cliArgs(['serve', '-c', configFile, '--server', server, ...extra]) };
}

/** Node.js arguments that run the compiled CLI with `args` (checked to be built when run from source). */
export function cliArgs(args: readonly string[]): string[] {
  assertBuilt();
  return [MAIN_SCRIPT, ...args];
}
