import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { connect as tlsConnect, createSecureContext } from 'node:tls';
import type { Etcd3, IOptions } from 'etcd3';
import type { IBackoff } from 'cockatiel';

/** Where the etcd cluster is and how to talk to it: from an `etcd` SR and the pool parameters. */
export interface EtcdConnectionOptions {
  /** Client URLs (http:// or https://, not mixed). */
  endpoints: string[];
  /** Every key liveset writes lives under this prefix (default `/liveset/<pool uuid>`). */
  prefix: string;
  /**
   * TLS, with Kea's key names as elsewhere in liveset: PEM file paths. Used with https:// endpoints
   * only; without `trust-anchor` the system's CAs verify etcd's certificate.
   */
  tls?: { 'trust-anchor'?: string; 'cert-file'?: string; 'key-file'?: string };
  /** etcd's own user/password authentication. */
  auth?: { user: string; password: string };
  /** Per-call deadline for unary calls, ms. */
  callTimeoutMs?: number;
}

/** Parses the comma-separated `endpoints` of an etcd SR's device_config, refusing anything but URLs. */
export function parseEndpoints(text: string): string[] {
  const list = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (list.length === 0) throw new Error('device_config.endpoints is empty: give the etcd client URLs, comma-separated');
  for (const e of list) {
    let url: URL;
    try {
      url = new URL(e);
    } catch {
      throw new Error(`device_config.endpoints: ${JSON.stringify(e)} is not a URL (expected http://host:port or https://host:port)`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(`device_config.endpoints: ${JSON.stringify(e)} must use http or https`);
    }
  }
  return list;
}

/**
 * How the endpoints and the TLS settings fit together; undefined when they do. The etcd3 client
 * decides TLS from its credentials alone (it would speak TLS to an http:// URL when given a CA), so
 * the URL scheme is made the one switch here: https:// means TLS, and TLS files without it are a
 * mistake rather than something to guess about.
 */
export function connectionProblem(opts: Pick<EtcdConnectionOptions, 'endpoints' | 'tls'>): string | undefined {
  const https = opts.endpoints.filter((e) => e.startsWith('https:'));
  if (https.length > 0 && https.length < opts.endpoints.length) {
    return `device_config.endpoints mixes http:// and https:// URLs (${opts.endpoints.join(',')}): every member is spoken to the same way; use https:// for all when etcd serves TLS`;
  }
  const files = Object.entries(opts.tls ?? {}).filter(([, v]) => v !== undefined).map(([k]) => `cluster-stacks.etcd.${k}`);
  if (https.length === 0 && files.length > 0) {
    return `${files.join(', ')} set, but device_config.endpoints use http:// (${opts.endpoints.join(',')}): etcd's TLS client URLs are https://; change the SR's endpoints, or drop the TLS files`;
  }
  return undefined;
}

/** A setting that cannot work (a file missing, a certificate not matching its key): no retry helps. */
export class EtcdSettingsError extends Error {}

/** Whether retrying cannot help until the operator changes something: settings, TLS, authentication. */
export function isPermanentEtcdError(err: unknown): boolean {
  return err instanceof EtcdSettingsError || etcdErrorKind(err) !== 'other';
}

/** The TLS files' contents, by node:tls's option names (grpc's take the same three). */
interface TlsFiles {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

function readTlsFiles(tls: NonNullable<EtcdConnectionOptions['tls']>): TlsFiles {
  return {
    ...(tls['trust-anchor'] !== undefined ? { ca: readPem('trust-anchor', tls['trust-anchor']) } : {}),
    ...(tls['cert-file'] !== undefined ? { cert: readPem('cert-file', tls['cert-file']) } : {}),
    ...(tls['key-file'] !== undefined ? { key: readPem('key-file', tls['key-file']) } : {}),
  };
}

function readPem(key: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new EtcdSettingsError(`cluster-stacks.etcd.${key}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/**
 * Opens an etcd3 client. The package is loaded only here, when a pool actually uses the etcd stack:
 * importing it costs ≈0.4 s and ≈68 MB (spec/clients-and-toolchain.md §B.2), which every other
 * server and every `liveset call` would otherwise pay at start-up. Every etcd call of the stack —
 * the session's own keepalives, its watches, the election, the redo log — goes through a client
 * opened here, so all of them carry the same TLS and credentials.
 */
export async function openEtcd(opts: EtcdConnectionOptions): Promise<Etcd3> {
  const problem = connectionProblem(opts);
  if (problem !== undefined) throw new EtcdSettingsError(problem);
  const tls = opts.endpoints[0]?.startsWith('https:') === true ? (opts.tls ?? {}) : undefined;
  // Files are read (and a certificate checked against its key) before the package is loaded, so a
  // mistake in them is named as such.
  let files: TlsFiles | undefined;
  if (tls !== undefined) {
    files = readTlsFiles(tls);
    try {
      // What grpc will do with them: a certificate that does not match its key, or a file that is
      // not PEM, fails here with the file named, not as an opaque error inside the first call.
      createSecureContext(files);
    } catch (err) {
      const named = Object.entries(tls).map(([k, v]) => `${k} ${v}`).join(', ');
      throw new EtcdSettingsError(`cluster-stacks.etcd TLS files cannot be used (${named}): ${(err as Error).message}`);
    }
  }
  const [{ Etcd3, isRecoverableError }, { ExponentialBackoff, handleWhen, ConsecutiveBreaker, retry, circuitBreaker }] =
    await Promise.all([import('etcd3'), import('cockatiel')]);
  const callTimeoutMs = opts.callTimeoutMs ?? 2000;
  const options: IOptions = {
    hosts: opts.endpoints,
    // gRPC's own reconnect backoff starts at 1 s and grows 1.6x up to 120 s. Seen once under load: after
    // an etcd outage of about ten seconds one host's calls kept failing with "Waiting for LB pick" for
    // 4 s after its peers got through, and the survival rule took it for cut off and fenced it; a grown
    // backoff is the likely cause (not reproduced on demand). Members are retried as often as the
    // session's keepalives are while etcd is away (every 250 ms), so hosts see etcd return together.
    grpcOptions: { 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 250 },
    dialTimeout: callTimeoutMs,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
    faultHandling: {
      // A dead member must not hold calls back for long: try the next host quickly, and re-open a
      // broken watch within a second (etcd3's default backoff waits up to 30 s, longer than any TTL).
      host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(2) }),
      global: retry(handleWhen(isRecoverableError), { maxAttempts: 2, backoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: 200 }) }),
      // etcd3's typings ask for a started backoff, but its watch manager calls `.next()` on the
      // factory itself (as its own default, `new ExponentialBackoff()`, shows).
      watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1000 }) as unknown as IBackoff<unknown>,
    },
  };
  // etcd3 types the CA as required, but hands it to grpc's createSsl, where null means the system's CAs.
  if (files !== undefined) {
    options.credentials = {
      ...(files.ca ? { rootCertificate: files.ca } : {}),
      ...(files.cert ? { certChain: files.cert } : {}),
      ...(files.key ? { privateKey: files.key } : {}),
    } as NonNullable<IOptions['credentials']>;
  }
  if (opts.auth !== undefined) options.auth = { username: opts.auth.user, password: opts.auth.password };
  return new Etcd3(options);
}

/** Why an etcd call failed, as far as the message tells: TLS and authentication do not heal by retrying. */
export type EtcdErrorKind = 'tls-server' | 'tls-client' | 'tls-plain' | 'auth-failed' | 'auth-disabled' | 'permission' | 'other';

export function etcdErrorKind(err: unknown): EtcdErrorKind {
  const raw = err instanceof Error ? err.message : String(err);
  if (/unable to verify the first certificate|self[- ]signed certificate|unable to get (local )?issuer certificate|certificate signature failure|certificate has expired|certificate is not yet valid|does not match certificate's altnames|ERR_TLS_CERT_ALTNAME|invalid CA certificate/i.test(raw)) return 'tls-server';
  if (/alert bad certificate|alert certificate required|certificate required|alert unknown ca|alert number (42|48|116)\b|alert certificate unknown/i.test(raw)) return 'tls-client';
  // etcd without TLS closes a TLS client's connection without a word.
  if (/wrong version number|packet length too long|http_request|unknown protocol|disconnected before secure TLS connection was established/i.test(raw)) return 'tls-plain';
  if (/authentication failed, invalid user ID or password/.test(raw)) return 'auth-failed';
  if (/authentication is not enabled/.test(raw)) return 'auth-disabled';
  if (/permission denied/.test(raw)) return 'permission';
  return 'other';
}

/**
 * What went wrong talking to etcd, in the operator's terms: a TLS or authentication failure names
 * the setting to look at instead of gRPC's "14 UNAVAILABLE: No connection established". Anything
 * else keeps its own message.
 */
export function describeEtcdError(err: unknown, opts: Pick<EtcdConnectionOptions, 'tls' | 'auth' | 'prefix' | 'endpoints'>): string {
  const raw = err instanceof Error ? err.message : String(err);
  const detail = grpcDetail(raw);
  const ca = opts.tls?.['trust-anchor'];
  const cert = opts.tls?.['cert-file'];
  const https = opts.endpoints.some((e) => e.startsWith('https:'));
  switch (etcdErrorKind(err)) {
    case 'tls-server':
      return ca !== undefined
        ? `TLS: etcd's server certificate is not trusted with cluster-stacks.etcd.trust-anchor ${ca} (${detail}): it must be the CA that signed etcd's --cert-file, and that certificate must name the host or IP of the endpoint`
        : `TLS: etcd's server certificate is not trusted by the system's CAs (${detail}); no cluster-stacks.etcd.trust-anchor is set: give the CA that signed etcd's --cert-file`;
    case 'tls-client':
      return cert !== undefined
        ? `TLS: etcd refused this host's client certificate cluster-stacks.etcd.cert-file ${cert} (${detail}): etcd runs with --client-cert-auth and the certificate must be signed by its --trusted-ca-file and allow client authentication`
        : `TLS: etcd demands a client certificate (--client-cert-auth) and none is configured (${detail}): set cluster-stacks.etcd.cert-file and key-file`;
    case 'tls-plain':
      return `TLS: the endpoint does not complete a TLS handshake (${detail}): an etcd without TLS does this; use http:// endpoints for it, or start etcd with --cert-file/--key-file`;
    case 'auth-failed':
      return `etcd authentication: etcd refused user ${JSON.stringify(opts.auth?.user ?? '')} (invalid user or password): check cluster-stacks.etcd.user and password / password-file`;
    case 'auth-disabled':
      return `etcd authentication: cluster-stacks.etcd.user is set but etcd has authentication disabled (${detail}): enable it in etcd, or remove user and password`;
    case 'permission':
      return opts.auth !== undefined
        ? `etcd authentication: etcd user ${JSON.stringify(opts.auth.user)} may not read and write under ${opts.prefix}/ (${detail}): grant its role readwrite on that prefix`
        : `etcd authentication: etcd has authentication enabled and this host gives no user (${detail}): set cluster-stacks.etcd.user and password${https ? ', or use a client certificate whose CN is an etcd user with readwrite on the prefix' : ''}`;
    case 'other':
      return raw;
  }
}

/**
 * gRPC often hides why a TLS connection failed ("No connection established. Last error: null"
 * once its sub-channels back off), so when a call to https:// endpoints fails for no stated reason,
 * this does one TLS handshake per endpoint itself, with the same files, and returns the first TLS
 * or certificate error (undefined when every endpoint's handshake is accepted, or none could be
 * reached at all). Accepted means etcd's HTTP/2 preface arrived: under --client-cert-auth a TLS 1.3
 * server refuses a client certificate only after the client's side of the handshake is done.
 */
export async function probeTls(opts: Pick<EtcdConnectionOptions, 'endpoints' | 'tls'>, timeoutMs = 1000): Promise<Error | undefined> {
  if (!opts.endpoints.every((e) => e.startsWith('https:'))) return undefined;
  let files: TlsFiles;
  try {
    files = readTlsFiles(opts.tls ?? {});
  } catch (err) {
    return err as Error;
  }
  const one = (endpoint: string) =>
    new Promise<Error | undefined>((resolve) => {
      const url = new URL(endpoint);
      const host = url.hostname.replace(/^\[|\]$/g, '');
      const socket = tlsConnect({ host, port: Number(url.port || 2379), ALPNProtocols: ['h2'], ...files, ...(isIP(host) === 0 ? { servername: host } : {}) });
      const done = (e?: Error) => {
        clearTimeout(timer);
        socket.destroy();
        resolve(e);
      };
      const timer = setTimeout(() => done(), timeoutMs);
      socket.once('error', (e) => done(e));
      socket.once('data', () => done());
      socket.once('close', () => done());
    });
  const results = await Promise.all(opts.endpoints.map(one));
  return results.find((e) => e !== undefined && etcdErrorKind(e) !== 'other');
}

/** The part of a gRPC error that says what happened: "14 UNAVAILABLE: No connection established. Last error: X (time). Resolution note: " → X. */
function grpcDetail(message: string): string {
  const last = /Last error: (?:Error: )?([\s\S]*?)(?: \(\d{4}-\d\d-\d\dT[^)]*\))?\.? Resolution note:/.exec(message);
  let text = (last?.[1] ?? message).trim();
  // OpenSSL's "802C…:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:../deps/…:1601:SSL alert number 42"
  const ssl = /SSL routines:[^:]*:([^:]+):[\s\S]*?(SSL alert number \d+)/.exec(text);
  if (ssl) text = `${ssl[1]}, ${ssl[2]}`;
  return text.replace(/\s+/g, ' ');
}
