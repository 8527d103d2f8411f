// Shared setup for the operator tests (status page, /metrics, liveset status): a real pair with
// authentication and a real three-host pool, each process on 127.0.0.1 with ports from the OS.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts, keaCommand, startMembers, waitFor, type LivesetProcess } from '../helpers/liveset.ts';
import { parsePrometheusText, type Family } from '../helpers/prometheus-text.ts';

export const OPERATOR = { user: 'operator', password: 'op-secret' };
export const AUTH_HEADER = `Basic ${Buffer.from(`${OPERATOR.user}:${OPERATOR.password}`).toString('base64')}`;

export interface Pair {
  readonly servers: Map<string, LivesetProcess>;
  readonly config: Record<string, unknown>;
  server(name: string): LivesetProcess;
  stopAll(): Promise<void>;
}

/**
 * An HA load-balancing pair behind basic authentication that pauses on entering partner-down, so a
 * test can see the pause on the page and lift it with ha-continue.
 */
export async function startPair(opts: { metricsOpenOnLoopback?: boolean } = {}): Promise<Pair> {
  const ports = await freePorts(2);
  const names = ['server1', 'server2'];
  const dataRoot = mkdtempSync(join(tmpdir(), 'liveset-operator-'));
  const config = {
    server: {
      'data-dir': join(dataRoot, '${server}'),
      authentication: { type: 'basic', clients: [OPERATOR] },
      control: { 'metrics-unauthenticated-loopback': opts.metricsOpenOnLoopback === true },
    },
    logging: { level: 'info', format: 'json' },
    'hooks-libraries': [{
      library: 'ha',
      parameters: {
        'high-availability': [{
          mode: 'load-balancing',
          'heartbeat-delay': 100,
          'max-response-delay': 500,
          'sync-timeout': 2000,
          peers: names.map((name, i) => ({
            name, url: `http://127.0.0.1:${ports[i]}/`, role: i === 0 ? 'primary' : 'secondary',
            'basic-auth-user': OPERATOR.user, 'basic-auth-password': OPERATOR.password,
          })),
          'state-machine': { states: [{ state: 'partner-down', pause: 'always' }] },
        }],
      },
    }],
  };
  const { servers, stopAll } = await startMembers(config, names, () => rmSync(dataRoot, { recursive: true, force: true }));
  return { servers, config, server: (n) => servers.get(n) as LivesetProcess, stopAll };
}

/** A Kea-channel command sent as the operator. */
export const asOperator = (url: string, command: string, args?: unknown) => keaCommand(url, command, args, { headers: { Authorization: AUTH_HEADER } });

/** GET /metrics (as the operator unless `anonymous`), parsed; throws on a non-200 answer. */
export async function scrape(url: string, opts: { anonymous?: boolean } = {}): Promise<Map<string, Family>> {
  const res = await fetch(new URL('/metrics', url), { headers: opts.anonymous ? {} : { Authorization: AUTH_HEADER }, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`/metrics: HTTP ${res.status}: ${text}`);
  return parsePrometheusText(text);
}

/** This server's HA state and pause, read with status-get as the operator. */
export async function haLocal(url: string): Promise<{ state: string; paused: boolean }> {
  const a = await asOperator(url, 'status-get');
  if (a.result !== 0) throw new Error(`status-get: ${a.text}`);
  return a.arguments['high-availability'][0]['ha-servers'].local;
}

/**
 * Waits until both servers are in load-balancing. A server started before its partner may reach
 * partner-down first and pause there (this pair pauses in partner-down); it is told to continue.
 */
export async function untilLoadBalancing(pair: Pair): Promise<void> {
  await waitFor(async () => {
    const states = await Promise.all([...pair.servers.values()].map(async (s) => {
      const l = await haLocal(s.url);
      if (l.paused) await asOperator(s.url, 'ha-continue');
      return l.state;
    }));
    return states.every((s) => s === 'load-balancing');
  }, { timeoutMs: 60_000, what: 'both servers in load-balancing' });
}
