import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { arch, platform, release } from 'node:os';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MAIN_SCRIPT = fileURLToPath(new URL('./main.ts', import.meta.url));

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

/** tsx's loader by absolute URL, so children start from any working directory. */
const TSX_LOADER = import.meta.resolve('tsx');

/** How `serve` children are started: the same Node.js, with tsx, running this CLI. */
export function serveCommand(configFile: string, server: string, extra: readonly string[] = []): { cmd: string; args: string[] } {
  return { cmd: process.execPath, args: ['--import', TSX_LOADER, MAIN_SCRIPT, 'serve', '-c', configFile, '--server', server, ...extra] };
}
