// Shared setup for the ha integration tests: real liveset processes on 127.0.0.1 with short timers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { freePorts, keaCommand, startLiveset, startMembers, waitFor } from '../helpers/liveset.ts';
import { keaStatusProblems } from '../helpers/kea-reference.ts';

export type Liveset = Awaited<ReturnType<typeof startLiveset>>;

export const HEARTBEAT_DELAY = 100;
export const MAX_RESPONSE_DELAY = 500;

export type Mode = 'load-balancing' | 'hot-standby' | 'passive-backup';
const ROLES: Record<Mode, string[]> = {
  'load-balancing': ['primary', 'secondary'],
  'hot-standby': ['primary', 'standby'],
  'passive-backup': ['primary', 'backup'],
};

export interface HaCluster {
  readonly names: string[];
  readonly servers: Map<string, Liveset>;
  readonly dataRoot: string;
  server(name: string): Liveset;
  stopAll(): Promise<void>;
}

/** Starts one liveset process per peer of an ha relationship; the caller stops them with stopAll(). */
export async function startHa(opts: {
  mode: Mode;
  states?: { state: string; pause: string }[];
  notify?: (dataRoot: string) => Record<string, unknown>;
  /** Witness URLs (each a running liveset server named w1, w2, ...), and more relationship keys. */
  witnesses?: readonly { name: string; url: string }[];
  relationship?: Record<string, unknown>;
  faultInjection?: boolean;
  readyTimeoutMs?: number;
} ): Promise<HaCluster> {
  const roles = ROLES[opts.mode];
  const ports = await freePorts(roles.length);
  const names = roles.map((_, i) => `server${i + 1}`);
  const dataRoot = mkdtempSync(join(tmpdir(), 'liveset-ha-'));
  const config = {
    server: { 'data-dir': join(dataRoot, '${server}') },
    logging: { level: process.env['HA_TEST_LOG'] ?? 'info', format: 'json' },
    ...(opts.faultInjection ? { testing: { 'fault-injection': true } } : {}),
    'hooks-libraries': [
      {
        library: 'ha',
        parameters: {
          'high-availability': [
            {
              mode: opts.mode,
              'heartbeat-delay': HEARTBEAT_DELAY,
              'max-response-delay': MAX_RESPONSE_DELAY,
              'sync-timeout': 2000,
              peers: names.map((name, i) => ({ name, url: `http://127.0.0.1:${ports[i]}/`, role: roles[i] })),
              ...(opts.states ? { 'state-machine': { states: opts.states } } : {}),
              ...(opts.notify ? { notify: opts.notify(dataRoot) } : {}),
              ...(opts.witnesses ? { witnesses: opts.witnesses } : {}),
              ...opts.relationship,
            },
          ],
        },
      },
    ],
  };
  const { servers, stopAll } = await startMembers(config, names, () => rmSync(dataRoot, { recursive: true, force: true }), opts.readyTimeoutMs);
  return { names, servers, dataRoot, server: (n) => servers.get(n) as Liveset, stopAll };
}

/**
 * This server's entry of status-get's high-availability section. Every call also checks the whole
 * answer against Kea 2.2's status-get keys and types (test/helpers/kea-reference.ts), so every HA
 * state an integration test reaches is checked.
 */
export async function haStatus(s: Liveset): Promise<{ local: Record<string, any>; remote?: Record<string, any> }> {
  const a = await keaCommand(s.url, 'status-get');
  if (a.result !== 0) throw new Error(`status-get: ${a.text}`);
  const problems = keaStatusProblems(a.arguments);
  if (problems.length > 0) throw new Error(`status-get of ${s.name} differs from Kea 2.2's keys and types: ${problems.join('; ')}\n${JSON.stringify(a.arguments)}`);
  return a.arguments['high-availability'][0]['ha-servers'];
}

export async function haState(s: Liveset): Promise<string> {
  return (await haStatus(s)).local['state'] as string;
}

/** Waits until every listed server reports `state` (and `paused` when given). */
export async function waitState(servers: Liveset[], state: string, opts: { paused?: boolean; timeoutMs?: number } = {}): Promise<void> {
  await waitFor(
    async () => {
      const seen = await Promise.all(servers.map(async (s) => [s.name, (await haStatus(s)).local] as const));
      const wrong = seen.filter(([, l]) => l['state'] !== state || (opts.paused !== undefined && l['paused'] !== opts.paused));
      // Thrown so that a timeout reports where each server actually was.
      if (wrong.length > 0) throw new Error(wrong.map(([n, l]) => `${n} ${String(l['state'])}${l['paused'] === true ? ' (paused)' : ''}`).join(', '));
      return true;
    },
    { timeoutMs: opts.timeoutMs ?? 15_000, what: `${servers.map((s) => s.name).join(', ')} in ${state}${opts.paused === undefined ? '' : opts.paused ? ' (paused)' : ' (not paused)'}` },
  );
}

/** A WebSocket subscriber to `ha-state-transition` events (`events`), and any others asked for (`other`). */
export class TransitionSubscriber {
  readonly events: Record<string, any>[] = [];
  readonly other: { method: string; params: Record<string, any> }[] = [];
  private constructor(private readonly ws: WebSocket) {}

  static async open(s: Liveset, extra: readonly string[] = []): Promise<TransitionSubscriber> {
    const ws = new WebSocket(new URL('/ws', s.url).href.replace(/^http/, 'ws'));
    const sub = new TransitionSubscriber(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const subscribed = new Promise<void>((resolve, reject) => {
      ws.on('message', (data) => {
        const msg = JSON.parse(String(data)) as Record<string, any>;
        if (msg['id'] === 1) {
          if (msg['error'] !== undefined) reject(new Error(JSON.stringify(msg['error'])));
          else resolve();
        } else if (msg['method'] === 'ha-state-transition') {
          sub.events.push(msg['params'] as Record<string, any>);
        } else if (typeof msg['method'] === 'string') {
          sub.other.push({ method: msg['method'], params: msg['params'] as Record<string, any> });
        }
      });
    });
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscribe', params: { events: ['ha-state-transition', ...extra] } }));
    await subscribed;
    return sub;
  }

  close(): void {
    this.ws.close();
  }
}
