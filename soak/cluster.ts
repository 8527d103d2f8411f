import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts, startLiveset, type LivesetProcess } from '../test/helpers/liveset.ts';

/** One member of a soak cluster: its process, and whether the driver has it down on purpose. */
export interface Member {
  readonly name: string;
  readonly cluster: 'ha' | 'pool';
  readonly proc: LivesetProcess;
  down: boolean;
  /** When the driver last killed it (ms since the soak started), for failover durations. */
  killedAt?: number;
}

/** One configuration file for a whole cluster, with fault injection (fault-partition/fault-heal). */
const clusterConfig = (library: string, parameters: Record<string, unknown>): Record<string, unknown> => ({
  server: { 'data-dir': join(mkdtempSync(join(tmpdir(), 'liveset-soak-')), 'var-${server}') },
  logging: { level: 'info' },
  testing: { 'fault-injection': true },
  'hooks-libraries': [{ library, parameters }],
});

/** A load-balancing pair with fault injection, on ports from the OS. */
async function haConfig(): Promise<{ config: Record<string, unknown>; names: string[] }> {
  const ports = await freePorts(2);
  const names = ['server1', 'server2'];
  return {
    names,
    config: clusterConfig('ha', {
      'high-availability': [{
        mode: 'load-balancing', 'heartbeat-delay': 1000, 'max-response-delay': 4000,
        peers: names.map((n, i) => ({ name: n, url: `http://127.0.0.1:${ports[i]}/`, role: i === 0 ? 'primary' : 'secondary' })),
      }],
    }),
  };
}

/** A three-host pool with fault injection. */
async function poolConfig(): Promise<{ config: Record<string, unknown>; names: string[] }> {
  const ports = await freePorts(3);
  const names = ['host1', 'host2', 'host3'];
  return {
    names,
    config: clusterConfig('pool', {
      name: 'soak', master: 'host1',
      hosts: names.map((n, i) => ({ name: n, url: `http://127.0.0.1:${ports[i]}/` })),
      credentials: [{ user: 'root', password: 'secret' }],
      'heartbeat-interval': 1000, 'assumed-dead-interval': 5000, 'forward-timeout': 3000, 'proposal-timeout': 15000, 'database-sync-interval': 5000,
    }),
  };
}

/** Starts the HA pair and the pool (real `liveset serve` processes on 127.0.0.1). */
export async function startClusters(): Promise<Member[]> {
  const members: Member[] = [];
  try {
    for (const [cluster, make] of [['ha', haConfig], ['pool', poolConfig]] as const) {
      const { config, names } = await make();
      for (const name of names) {
        members.push({ name, cluster, proc: await startLiveset({ config, server: name, readyTimeoutMs: 90_000 }), down: false });
      }
    }
  } catch (err) {
    await Promise.all(members.map((m) => m.proc.kill()));
    throw err;
  }
  return members;
}
