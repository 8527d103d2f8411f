import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '../errors.ts';
import type { SchemaProblem, SchemaValidator } from '../schema-validator.ts';
import type { ClusterMember } from '../hooks/hook-library.ts';
import { checkLibraryParameters, describeCluster, resolveLibraries, type BuiltinLibraries, type ResolvedLibrary } from '../hooks/library-resolution.ts';
import type { LoadedConfig } from './config-types.ts';
import { formatProblem } from './load-config.ts';

export const DEFAULT_LISTEN = 'http://127.0.0.1:8000/';

/** True for a listen host other than loopback (127.0.0.0/8, ::1, localhost). */
export function isOpenToTheNetwork(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  return !(host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host));
}

/** A configuration checked end to end and resolved for one member of the cluster. */
export interface PreparedConfig {
  readonly loaded: LoadedConfig;
  readonly libs: readonly ResolvedLibrary[];
  readonly members: readonly ClusterMember[];
  readonly serverName: string;
  readonly listen: URL;
  readonly dataDir: string;
  readonly authClients: readonly { user: string; password: string }[];
  /** server.tls with its files read: the listener's key material (absent: plain HTTP). */
  readonly tls?: ListenerTls;
  /** Libraries' warnings about settings they accept but ignore, each as `file:line:col: path: library: text`. */
  readonly warnings: readonly string[];
}

/** What the TLS listener needs: PEM contents and whether client certificates are demanded. */
export interface ListenerTls {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly certRequired: boolean;
  /** The files, resolved (for readiness probes that present this server's own certificate). */
  readonly files: { readonly trustAnchor: string; readonly certFile: string; readonly keyFile: string };
}

/**
 * Everything `check-config`, `config-test`, start and reload share: resolve libraries, validate
 * their parameters, pick this member, derive the listen address and read password files. Every
 * problem is collected before a ConfigError is thrown.
 */
export async function prepareConfig(
  loaded: LoadedConfig,
  serverNameOption: string | undefined,
  builtins: BuiltinLibraries,
  validator: SchemaValidator,
): Promise<PreparedConfig> {
  const { config, source } = loaded;
  const problems: SchemaProblem[] = [...loaded.problems];
  const entries: unknown = config['hooks-libraries'];
  const librariesReadable = Array.isArray(entries) && entries.every((e) => typeof (e as { library?: unknown } | null)?.library === 'string');
  const { libs, problems: resolveProblems } = librariesReadable ? await resolveLibraries(config, source.dir, builtins) : { libs: [], problems: [] };
  problems.push(...resolveProblems);
  if (loaded.problems.length > 0) {
    // The top level is broken, so nothing below can be trusted; still report the libraries' own problems.
    problems.push(...checkLibraryParameters(libs, validator, serverNameOption));
    throw new ConfigError(problems.map((p) => formatProblem(source, p)));
  }
  const cluster = describeCluster(libs);
  problems.push(...cluster.problems);
  const serverName = serverNameOption ?? config.server.name ?? cluster.thisServer ?? (cluster.members.length === 0 ? 'liveset' : undefined);
  if (serverName === undefined) {
    problems.push({ pointer: '', message: `this file describes servers ${cluster.members.map((m) => m.name).join(', ')}; pick one with --server NAME (or set server.name)` });
  } else if (cluster.members.length > 0 && !cluster.members.some((m) => m.name === serverName) && !config.server.listen) {
    problems.push({ pointer: '', message: `server '${serverName}' is not described in this file (servers: ${cluster.members.map((m) => m.name).join(', ')})` });
  }
  problems.push(...checkLibraryParameters(libs, validator, serverName));
  const listenText = config.server.listen ?? cluster.members.find((m) => m.name === serverName)?.url ?? DEFAULT_LISTEN;
  let listen = new URL(DEFAULT_LISTEN);
  try {
    listen = new URL(listenText);
    const wanted = config.server.tls ? 'https:' : 'http:';
    if (listen.protocol !== wanted) {
      problems.push({
        pointer: config.server.listen !== undefined ? '/server/listen' : '/server',
        message: config.server.tls
          ? `server.tls is set, so this server's URL must be https:// (got ${listenText})`
          : `${listenText}: ${listen.protocol === 'https:' ? 'an https:// URL needs server.tls (trust-anchor, cert-file, key-file)' : 'only http:// and https:// listen addresses are supported'}`,
      });
    }
  } catch {
    problems.push({ pointer: '/server/listen', message: `not a valid URL: ${listenText}` });
  }
  if (isOpenToTheNetwork(listen.hostname) && !config.server.authentication && !config.server.insecure) {
    problems.push({
      pointer: '/server/listen',
      message: `${listen.host} is not a loopback address and server.authentication is not set: anyone who can reach it could run every command; add server.authentication (and the peer credentials: pool secret, HA basic-auth), or set server.insecure: true to accept that`,
    });
  }
  const authClients: { user: string; password: string }[] = [];
  for (const [i, client] of (config.server.authentication?.clients ?? []).entries()) {
    if (client.password !== undefined) {
      authClients.push({ user: client.user, password: client.password });
      continue;
    }
    const file = resolve(source.dir, client['password-file'] as string);
    try {
      authClients.push({ user: client.user, password: readFileSync(file, 'utf8').replace(/\r?\n$/, '') });
    } catch (err) {
      problems.push({ pointer: `/server/authentication/clients/${i}/password-file`, message: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
    }
  }
  let tls: ListenerTls | undefined;
  if (config.server.tls) {
    const t = config.server.tls;
    const read = (key: 'trust-anchor' | 'cert-file' | 'key-file'): [string, Buffer] => {
      const file = resolve(source.dir, t[key]);
      try {
        return [file, readFileSync(file)];
      } catch (err) {
        problems.push({ pointer: `/server/tls/${key}`, message: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
        return [file, Buffer.alloc(0)];
      }
    };
    const [trustAnchor, ca] = read('trust-anchor');
    const [certFile, cert] = read('cert-file');
    const [keyFile, key] = read('key-file');
    tls = { ca, cert, key, certRequired: t['cert-required'], files: { trustAnchor, certFile, keyFile } };
  }
  if (problems.length > 0) throw new ConfigError(problems.map((p) => formatProblem(source, p)));
  const name = serverName as string;
  const warnings = libs.flatMap(({ index, library, parameters }) =>
    (library.warnings?.(parameters, name) ?? []).map((w) => formatProblem(source, { pointer: `/hooks-libraries/${index}/parameters${w.pointer}`, message: `${library.name}: ${w.message}` })),
  );
  return {
    warnings,
    loaded,
    libs,
    members: cluster.members,
    serverName: name,
    listen,
    dataDir: resolve(source.dir, config.server['data-dir'].replaceAll('${server}', name)),
    authClients,
    ...(tls ? { tls } : {}),
  };
}
