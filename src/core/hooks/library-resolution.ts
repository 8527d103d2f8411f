import { realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { LivesetConfig } from '../config/config-types.ts';
import type { SchemaProblem, SchemaValidator } from '../schema-validator.ts';
import { HOOKS_API_VERSION, type ClusterMember, type HookLibrary } from './hook-library.ts';

/** A library named in `hooks-libraries`, resolved to its module, with its place in the file. */
export interface ResolvedLibrary {
  readonly index: number;
  readonly library: HookLibrary;
  readonly parameters: Record<string, unknown>;
}

/** Built-in names map to modules the server ships; anything else is a path to a module. */
export type BuiltinLibraries = Readonly<Record<string, () => Promise<{ library: HookLibrary }>>>;

/**
 * Imports every configured library. A library that cannot be imported is a problem at its entry.
 * Only built-in names and modules inside the hooks directory (server.hooks-directory, default the
 * configuration file's directory) are imported: like Kea 2.6.3 (CVE-2025-32801), a path elsewhere
 * is refused before anything of it runs.
 */
export async function resolveLibraries(
  config: LivesetConfig,
  configDir: string,
  builtins: BuiltinLibraries,
): Promise<{ libs: ResolvedLibrary[]; problems: SchemaProblem[] }> {
  const libs: ResolvedLibrary[] = [];
  const problems: SchemaProblem[] = [];
  const hooksDir = resolve(configDir, config.server?.['hooks-directory'] ?? '.');
  for (const [index, entry] of config['hooks-libraries'].entries()) {
    const pointer = `/hooks-libraries/${index}/library`;
    try {
      const library = await importLibrary(entry.library, configDir, hooksDir, builtins);
      if (library.apiVersion !== HOOKS_API_VERSION) {
        problems.push({ pointer, message: `library '${library.name}' uses hooks API version ${library.apiVersion}; this server supports ${HOOKS_API_VERSION}` });
        continue;
      }
      if (libs.some((l) => l.library.name === library.name)) {
        problems.push({ pointer, message: `library '${library.name}' is loaded twice` });
        continue;
      }
      libs.push({ index, library, parameters: entry.parameters });
    } catch (err) {
      problems.push({ pointer, message: `cannot load library '${entry.library}': ${(err as Error).message}` });
    }
  }
  return { libs, problems };
}

/** The module file of a non-built-in library, if it lies inside the hooks directory (symbolic links followed). */
export function trustedModulePath(spec: string, configDir: string, hooksDir: string): string {
  const path = isAbsolute(spec) ? spec : resolve(configDir, spec);
  let real: string;
  let dir: string;
  try {
    dir = realpathSync(hooksDir);
  } catch (err) {
    throw new Error(`the hooks directory ${hooksDir} (server.hooks-directory) cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    real = realpathSync(path);
  } catch (err) {
    throw new Error(`${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const rel = relative(dir, real);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
    throw new Error(`${path} is outside the hooks directory ${dir}; only built-in libraries and modules in server.hooks-directory are loaded`);
  }
  return real;
}

async function importLibrary(spec: string, configDir: string, hooksDir: string, builtins: BuiltinLibraries): Promise<HookLibrary> {
  const builtin = Object.hasOwn(builtins, spec) ? builtins[spec] : undefined;
  const mod = (builtin ? await builtin() : await import(pathToFileURL(trustedModulePath(spec, configDir, hooksDir)).href)) as {
    library?: HookLibrary;
    default?: HookLibrary;
  };
  const library = mod.library ?? mod.default;
  if (!library || typeof library.load !== 'function' || typeof library.unload !== 'function' || typeof library.name !== 'string') {
    throw new Error('the module exports no hook library (expected `export const library` with name, apiVersion, parametersSchema, load, unload)');
  }
  return library;
}

/** Validates each library's parameters against its own schema, then its cross-field checks. */
export function checkLibraryParameters(libs: readonly ResolvedLibrary[], validator: SchemaValidator, serverName: string | undefined): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  for (const { index, library, parameters } of libs) {
    const base = `/hooks-libraries/${index}/parameters`;
    const found = validator.compile(library.parametersSchema)(parameters);
    problems.push(...found.map((p) => ({ pointer: base + p.pointer, message: p.message })));
    if (found.length > 0 || !library.check) continue;
    const names = serverName !== undefined ? [serverName] : (library.members?.(parameters).members.map((m) => m.name) ?? ['']);
    const seen = new Set<string>();
    for (const name of names) {
      for (const message of library.check(parameters, name)) {
        if (seen.has(message)) continue;
        seen.add(message);
        problems.push({ pointer: base, message: `${library.name}: ${message}` });
      }
    }
  }
  return problems;
}

/** The cluster the libraries describe: every member once, and the member the file names as "this". */
export function describeCluster(libs: readonly ResolvedLibrary[]): { members: ClusterMember[]; thisServer?: string; problems: SchemaProblem[] } {
  const members = new Map<string, ClusterMember>();
  const problems: SchemaProblem[] = [];
  let thisServer: string | undefined;
  for (const { index, library, parameters } of libs) {
    const described = library.members?.(parameters);
    if (!described) continue;
    thisServer ??= described.thisServer;
    for (const m of described.members) {
      const known = members.get(m.name);
      if (known && normalizeUrl(known.url) !== normalizeUrl(m.url)) {
        problems.push({ pointer: `/hooks-libraries/${index}/parameters`, message: `server '${m.name}' has URL ${m.url} here but ${known.url} in another library` });
      }
      if (!known) members.set(m.name, m);
    }
  }
  return { members: [...members.values()], ...(thisServer !== undefined ? { thisServer } : {}), problems };
}

function normalizeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return url;
  }
}
