import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ConfigError } from '../../core/errors.ts';
import { parseConfigText, substituteEnv } from '../../core/config/parse-config.ts';
import type { ClusterMember, HookLibrary } from '../../core/hooks/hook-library.ts';
import { builtinLibraries } from '../../hook-libs/builtin.ts';
import type { JsonObject } from './scenario-types.ts';

/** A cluster configuration file as the scenario runner needs it. */
export interface ClusterFile {
  readonly file: string;
  /** The file's content as written (placeholders such as ${server} untouched). */
  readonly raw: JsonObject;
  readonly members: readonly ClusterMember[];
}

async function importLibrary(spec: string, configDir: string): Promise<HookLibrary | undefined> {
  const builtin = builtinLibraries[spec];
  if (builtin) return (await builtin()).library;
  const url = pathToFileURL(isAbsolute(spec) ? spec : resolve(configDir, spec));
  if (!existsSync(fileURLToPath(url))) return undefined;
  const mod = (await import(url.href)) as { library?: HookLibrary; default?: HookLibrary };
  return mod.library ?? mod.default;
}

/**
 * Reads a cluster configuration and asks each of its libraries which members it defines
 * (the same `members()` the server uses to find its own listen address).
 */
export async function readClusterFile(file: string, env: Readonly<Record<string, string | undefined>>): Promise<ClusterFile> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
  }
  const { value } = parseConfigText(text, file, dirname(file));
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError([`${file}: the configuration must be a mapping at the top level`]);
  }
  const raw = value as JsonObject;
  const substituted = substituteEnv(raw, env).value as JsonObject;
  const libraries = Array.isArray(substituted['hooks-libraries']) ? (substituted['hooks-libraries'] as unknown[]) : [];
  const members: ClusterMember[] = [];
  for (const [i, entry] of libraries.entries()) {
    const { library, parameters } = (entry ?? {}) as { library?: unknown; parameters?: unknown };
    if (typeof library !== 'string') continue;
    const lib = await importLibrary(library, dirname(file));
    if (lib?.members === undefined) continue;
    let found: readonly ClusterMember[];
    try {
      found = lib.members(parameters).members;
    } catch (err) {
      throw new ConfigError([`${file}: hooks-libraries[${i}] (${library}): cannot list the cluster members: ${(err as Error).message}`]);
    }
    for (const m of found) if (!members.some((x) => x.name === m.name)) members.push(m);
  }
  return { file, raw, members };
}

/** Ports the OS hands out as free on 127.0.0.1 (all held at once so they differ). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<ReturnType<typeof createServer>>((ok, fail) => {
      const s = createServer();
      s.once('error', fail);
      s.listen(0, '127.0.0.1', () => ok(s));
    })),
  );
  const ports = servers.map((s) => {
    const address = s.address();
    if (address === null || typeof address === 'string') throw new Error('no port from the OS');
    return address.port;
  });
  await Promise.all(servers.map((s) => new Promise((ok) => s.close(ok))));
  return ports;
}

/** Replaces, in every string of `value`, a URL whose origin is a key of `origins` with the mapped origin. */
function rewriteOrigins(value: unknown, origins: ReadonlyMap<string, string>): unknown {
  if (typeof value === 'string') {
    if (!/^https?:\/\//.test(value)) return value;
    try {
      const url = new URL(value);
      const replacement = origins.get(url.origin);
      return replacement === undefined ? value : replacement + value.replace(/^https?:\/\/[^/?#]*/i, '');
    } catch {
      return value;
    }
  }
  if (Array.isArray(value)) return value.map((v) => rewriteOrigins(v, origins));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rewriteOrigins(v, origins)]));
  }
  return value;
}

/**
 * The configuration a scenario run actually starts: the cluster file with `server.data-dir` moved
 * to the run's own directory (every run starts from empty stores) and, with `freePorts`, every
 * member URL (and any other URL with the same origin) moved to a port the OS says is free.
 */
export async function runConfig(
  cluster: ClusterFile,
  options: { dataDir: string; freePorts: boolean },
): Promise<{ config: JsonObject; members: ClusterMember[] }> {
  const origins = new Map<string, string>();
  if (options.freePorts) {
    const ports = await freePorts(cluster.members.length);
    cluster.members.forEach((m, i) => {
      const url = new URL(m.url);
      origins.set(url.origin, `${url.protocol}//${url.hostname}:${ports[i] ?? 0}`);
    });
  }
  const config = rewriteOrigins(cluster.raw, origins) as JsonObject;
  const server = { ...((config['server'] as JsonObject | undefined) ?? {}), 'data-dir': `${options.dataDir}/\${server}` };
  const members = cluster.members.map((m) => ({ name: m.name, url: rewriteOrigins(m.url, origins) as string }));
  return { config: { ...config, server }, members };
}
