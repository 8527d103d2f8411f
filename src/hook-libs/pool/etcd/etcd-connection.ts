import { readFileSync } from 'node:fs';
import type { Etcd3, IOptions } from 'etcd3';
import type { IBackoff } from 'cockatiel';

/** Where the etcd cluster is and how to talk to it: from an `etcd` SR and the pool parameters. */
export interface EtcdConnectionOptions {
  /** Client URLs (http:// or https://). */
  endpoints: string[];
  /** Every key liveset writes lives under this prefix (default `/liveset/<pool uuid>`). */
  prefix: string;
  /** TLS, with Kea's key names as elsewhere in liveset: PEM file paths. */
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
 * Opens an etcd3 client. The package is loaded only here, when a pool actually uses the etcd stack:
 * importing it costs ≈0.4 s and ≈68 MB (spec/clients-and-toolchain.md §B.2), which every other
 * server and every `liveset call` would otherwise pay at start-up.
 */
export async function openEtcd(opts: EtcdConnectionOptions): Promise<Etcd3> {
  const [{ Etcd3, isRecoverableError }, { ExponentialBackoff, handleWhen, ConsecutiveBreaker, retry, circuitBreaker }] =
    await Promise.all([import('etcd3'), import('cockatiel')]);
  const callTimeoutMs = opts.callTimeoutMs ?? 2000;
  const options: IOptions = {
    hosts: opts.endpoints,
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
  if (opts.tls !== undefined && opts.tls['trust-anchor'] !== undefined) {
    options.credentials = {
      rootCertificate: readFileSync(opts.tls['trust-anchor']),
      ...(opts.tls['key-file'] !== undefined ? { privateKey: readFileSync(opts.tls['key-file']) } : {}),
      ...(opts.tls['cert-file'] !== undefined ? { certChain: readFileSync(opts.tls['cert-file']) } : {}),
    };
  }
  if (opts.auth !== undefined) options.auth = { username: opts.auth.user, password: opts.auth.password };
  return new Etcd3(options);
}
