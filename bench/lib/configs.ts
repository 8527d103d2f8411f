import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from '../../test/helpers/liveset.ts';

/** A fresh data directory under the OS temp dir (same disk as the redo-log benchmark on this host). */
export const dataDir = (what: string): string => mkdtempSync(join(tmpdir(), `liveset-bench-${what}-`));

export type HaMode = 'load-balancing' | 'hot-standby';

/** A two-server HA pair on OS-chosen 127.0.0.1 ports; fault injection off, info logs; optionally with witnesses. */
export async function haPairConfig(
  mode: HaMode,
  heartbeatMs: number,
  maxResponseMs: number,
  witnesses: readonly { name: string; url: string }[] = [],
): Promise<Record<string, unknown>> {
  const [p1, p2] = await freePorts(2);
  const secondRole = mode === 'hot-standby' ? 'standby' : 'secondary';
  return {
    server: { 'data-dir': join(dataDir('ha'), '${server}') },
    logging: { level: 'info', format: 'json' },
    'hooks-libraries': [
      {
        library: 'ha',
        parameters: {
          'high-availability': [
            {
              mode,
              'heartbeat-delay': heartbeatMs,
              'max-response-delay': maxResponseMs,
              'max-unacked-clients': 0,
              peers: [
                { name: 'server1', url: `http://127.0.0.1:${p1}/`, role: 'primary', 'auto-failover': true },
                { name: 'server2', url: `http://127.0.0.1:${p2}/`, role: secondRole, 'auto-failover': true },
              ],
              ...(witnesses.length > 0 ? { witnesses } : {}),
            },
          ],
        },
      },
    ],
  };
}

/**
 * The pool secret of the bench pools: host.tickle_heartbeat is peer-only (issue 10), so the load
 * process standing in for the slaves sends it, as basic auth user `liveset-pool`, like a slave does.
 */
export const BENCH_POOL_SECRET = 'bench-pool-secret-0123456789abcdef';

/**
 * A pool of `hosts` hosts of which only host0 (the master) runs; the others' URLs are ports that
 * were free when the config was made. The master never calls them: slaves heartbeat it, not the
 * other way round, so a load process can stand in for them.
 */
export async function poolConfig(hosts: number): Promise<Record<string, unknown>> {
  // In batches (a process holds a limited number of sockets); a later batch may get a port again.
  const unique = new Set<number>();
  while (unique.size < hosts) for (const p of await freePorts(Math.min(200, hosts - unique.size))) unique.add(p);
  const ports = [...unique];
  return {
    server: { 'data-dir': dataDir('pool') },
    logging: { level: 'info', format: 'json' },
    'hooks-libraries': [
      {
        library: 'pool',
        parameters: {
          name: 'bench-pool',
          master: 'host0',
          hosts: ports.map((p, i) => ({ name: `host${i}`, url: `http://127.0.0.1:${p}/` })),
          credentials: [{ user: 'root', password: 'secret' }],
          'pool-secret': BENCH_POOL_SECRET,
          // xapi's 64 is the default; the fan-in benchmark's pools are bigger.
          ...(hosts > 64 ? { 'max-hosts': hosts } : {}),
          'heartbeat-interval': 1000,
          'assumed-dead-interval': 5000,
        },
      },
    ],
  };
}

/** A server with no hook libraries: the core alone. */
export async function bareConfig(): Promise<Record<string, unknown>> {
  const [port] = await freePorts(1);
  return {
    server: { listen: `http://127.0.0.1:${port}/`, 'data-dir': dataDir('core') },
    logging: { level: 'info', format: 'json' },
  };
}

/** A liveset server that loads no library: all a witness needs is the core's ha-witness-probe. */
export async function witnessConfig(name: string): Promise<Record<string, unknown>> {
  const [port] = await freePorts(1);
  return {
    server: { name, listen: `http://127.0.0.1:${port}/`, 'data-dir': dataDir('witness') },
    logging: { level: 'info', format: 'json' },
  };
}
