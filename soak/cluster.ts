import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts, keaCommand, startLiveset, waitFor, type LivesetProcess } from '../test/helpers/liveset.ts';

/** One member of a soak cluster: its process, and whether the driver has it down on purpose. */
export interface Member {
  readonly name: string;
  /** 'witness': a plain server (no library) the HA pair asks before it goes partner-down. */
  readonly cluster: 'ha' | 'pool' | 'witness';
  readonly proc: LivesetProcess;
  /** Down on purpose (killed by the driver) or known to have exited (fenced), until restarted. */
  down: boolean;
  /** When the driver last killed it (ms since the soak started), for failover durations. */
  killedAt?: number;
  /** When it was last lost to its cluster — killed, or cut off — for pool failover durations. */
  lostAt?: number;
}

/** The pool's HA timeout T in seconds: small (allowed with testing.fault-injection), well above scheduling noise. */
export const POOL_HA_T_SECONDS = 4;

/** Temporary directories of this soak (data, statefile), removed by removeScratch() at the end. */
const scratch: string[] = [];
const tempDir = (prefix: string): string => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  scratch.push(d);
  return d;
};

export function removeScratch(): void {
  for (const d of scratch.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** One configuration for a whole cluster, with fault injection (fault-partition/fault-heal). */
const clusterConfig = (library: string, parameters: Record<string, unknown>): Record<string, unknown> => ({
  server: { 'data-dir': join(tempDir('liveset-soak-'), 'var-${server}') },
  logging: { level: 'info' },
  testing: { 'fault-injection': true },
  'hooks-libraries': [{ library, parameters }],
});

/** The pair's witness: a liveset server that loads no library (its ha-witness-probe is all the pair needs). */
async function startWitness(): Promise<Member> {
  const [port] = await freePorts(1);
  const proc = await startLiveset({
    config: {
      server: { name: 'w1', listen: `http://127.0.0.1:${port}/`, 'data-dir': join(tempDir('liveset-soak-witness-'), 'w1') },
      logging: { level: 'info' },
      testing: { 'fault-injection': true },
    },
    readyTimeoutMs: 90_000,
  });
  return { name: 'w1', cluster: 'witness', proc, down: false };
}

/** A load-balancing pair with a witness and fault injection, on ports from the OS. */
async function haConfig(witness: Member): Promise<{ config: Record<string, unknown>; names: string[] }> {
  const ports = await freePorts(2);
  const names = ['server1', 'server2'];
  return {
    names,
    config: clusterConfig('ha', {
      'high-availability': [{
        mode: 'load-balancing', 'heartbeat-delay': 1000, 'max-response-delay': 4000,
        peers: names.map((n, i) => ({ name: n, url: `http://127.0.0.1:${ports[i]}/`, role: i === 0 ? 'primary' : 'secondary' })),
        witnesses: [{ name: witness.name, url: witness.proc.url }],
      }],
    }),
  };
}

/**
 * A three-host pool with fault injection (HA is enabled once it runs: enablePoolHa). Every host
 * gets the same pool secret (the hosts are started from separate configuration files, so the
 * default secret file beside each would differ).
 */
async function poolConfig(): Promise<{ config: Record<string, unknown>; names: string[] }> {
  const ports = await freePorts(3);
  const names = ['host1', 'host2', 'host3'];
  return {
    names,
    config: clusterConfig('pool', {
      name: 'soak', master: 'host1', 'pool-secret': `soak-${Date.now()}-shared-pool-secret`,
      hosts: names.map((n, i) => ({ name: n, url: `http://127.0.0.1:${ports[i]}/` })),
      credentials: [{ user: 'root', password: 'secret' }],
      'heartbeat-interval': 1000, 'assumed-dead-interval': 5000, 'forward-timeout': 3000, 'proposal-timeout': 15000, 'database-sync-interval': 5000,
      // The driver makes hosts fence far more often than the default fence-loop protection (3 in
      // an hour) allows before a host stays out of HA; the soak wants every fenced host back.
      'ha-fence-loop': { count: 1000, window: 1000 },
    }),
  };
}

const kea = (m: Member, command: string, args?: unknown) => keaCommand(m.proc.url, command, args, { timeoutMs: 10_000, errorDetail: true });

/**
 * Pool HA on the xhad stack, as an operator enables it: a shared `file` SR whose location is a
 * temporary directory (the statefile), then pool.enable_ha with T = POOL_HA_T_SECONDS; waits
 * until every host is armed and online in a liveset of three.
 */
async function enablePoolHa(pool: readonly Member[]): Promise<void> {
  const master = pool[0] as Member;
  await waitFor(async () => {
    const m = await kea(master, 'host_metrics.get_all_records');
    return m.result === 0 && Object.values(m.arguments as Record<string, { live: boolean }>).every((x) => x.live);
  }, { timeoutMs: 60_000, what: 'every pool host live' });
  const hosts = await kea(master, 'host.get_all_records');
  const refs = Object.fromEntries(Object.entries(hosts.arguments as Record<string, { name_label: string }>).map(([ref, h]) => [h.name_label, ref]));
  const statefileDir = join(tempDir('liveset-soak-sr-'), 'heartbeat-sr');
  mkdirSync(statefileDir);
  const sr = await kea(master, 'SR.create', {
    host: refs['host1'], device_config: { location: statefileDir }, physical_size: 0, name_label: 'heartbeat', name_description: '',
    type: 'file', content_type: '', shared: true, sm_config: {},
  });
  if (sr.result !== 0) throw new Error(`SR.create: ${sr.text}`);
  const en = await kea(master, 'pool.enable_ha', { heartbeat_srs: [sr.arguments], configuration: { timeout: String(POOL_HA_T_SECONDS) } });
  if (en.result !== 0) throw new Error(`pool.enable_ha: ${en.text}`);
  for (const m of pool) {
    await waitFor(async () => {
      const s = await kea(m, 'host.local_status').catch(() => undefined);
      const ha = (s?.arguments as { ha?: { armed?: boolean; state?: string; liveset?: string[] } } | undefined)?.ha;
      return ha?.armed === true && ha.state === 'online' && ha.liveset?.length === pool.length;
    }, { timeoutMs: 60_000, what: `${m.name} armed and online in the liveset` });
  }
}

/**
 * Starts the witness, the HA pair naming it, and the pool with HA enabled (real `liveset serve`
 * processes on 127.0.0.1). On failure every process started so far is killed.
 */
export async function startClusters(): Promise<Member[]> {
  const members: Member[] = [];
  try {
    const witness = await startWitness();
    members.push(witness);
    for (const [cluster, make] of [['ha', () => haConfig(witness)], ['pool', poolConfig]] as const) {
      const { config, names } = await make();
      for (const name of names) {
        members.push({ name, cluster, proc: await startLiveset({ config, server: name, readyTimeoutMs: 90_000 }), down: false });
      }
    }
    await enablePoolHa(members.filter((m) => m.cluster === 'pool'));
  } catch (err) {
    await Promise.all(members.map((m) => m.proc.kill()));
    removeScratch();
    throw err;
  }
  return members;
}
