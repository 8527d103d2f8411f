import { startLiveset, type LivesetProcess } from '../test/helpers/liveset.ts';
import { runScript, startServerScript } from './lib/children.ts';
import { haPairConfig } from './lib/configs.ts';
import { fmt, ms, ratio, type Row, type SectionResult } from './lib/report.ts';

export interface LoadReport {
  requests: number;
  errors: number;
  firstError?: string;
  rps: number;
  p50: number;
  p99: number;
}

export interface ThroughputOptions {
  readonly durationMs: number;
  readonly warmupMs: number;
  /** Alternating baseline/liveset rounds per line; the mean of the rounds is reported. */
  readonly rounds: number;
  readonly concurrency: readonly number[];
}

export interface Worst {
  readonly what: string;
  readonly ratio: number;
  /** The load-client spec of that line (without url and timings), for the profiler. */
  readonly load: Record<string, unknown>;
}

const WS_INFLIGHT = 32;
const keaBody = (command: string) => JSON.stringify({ command });
const rpcBody = (method: string) => JSON.stringify({ jsonrpc: '2.0', id: 1, method });
const wsUrl = (url: string) => new URL('/ws', url.replace(/^http/, 'ws')).href;

const show = (r: LoadReport): string =>
  `${fmt(r.rps)} req/s, p50 ${ms(r.p50)}, p99 ${ms(r.p99)}${r.errors ? `, ${r.errors} errors (${r.firstError})` : ''}`;

function mean(rs: LoadReport[]): LoadReport {
  const avg = (f: (r: LoadReport) => number) => rs.reduce((a, r) => a + f(r), 0) / rs.length;
  const firstError = rs.find((r) => r.firstError)?.firstError;
  return { requests: avg((r) => r.requests), errors: rs.reduce((a, r) => a + r.errors, 0), rps: avg((r) => r.rps), p50: avg((r) => r.p50), p99: avg((r) => r.p99), ...(firstError ? { firstError } : {}) };
}

interface Line {
  readonly what: string;
  readonly load: Record<string, unknown>;
  readonly baselineName: 'node:http' | 'ws echo';
}

/**
 * Control-channel throughput and latency. liveset runs as server1 of a load-balancing pair (so
 * status-get carries a live HA section); the baselines are a bare node:http server answering a
 * fixed JSON body and a bare `ws` echo server. All three run for the whole section, and each line
 * alternates baseline and liveset runs of the same load client, so both see the same machine load.
 */
export async function throughput(o: ThroughputOptions): Promise<SectionResult & { worst: Worst }> {
  const lines: Line[] = [];
  for (const c of o.concurrency) {
    const clients = `${c} client${c > 1 ? 's' : ''}`;
    const http = (path: string, body: string, check: string) => ({ kind: 'http', path, body, connections: c, check });
    lines.push(
      { what: `Kea POST / status-get, ${clients}`, load: http('/', keaBody('status-get'), 'kea'), baselineName: 'node:http' },
      { what: `Kea POST / version-get, ${clients}`, load: http('/', keaBody('version-get'), 'kea'), baselineName: 'node:http' },
      { what: `JSON-RPC POST /jsonrpc version-get, ${clients}`, load: http('/jsonrpc', rpcBody('version-get'), 'jsonrpc'), baselineName: 'node:http' },
    );
  }
  for (const s of [1, 8]) {
    lines.push({
      what: `JSON-RPC over ${s} WebSocket${s > 1 ? 's' : ''}, ${WS_INFLIGHT} in flight each, version-get`,
      load: { kind: 'ws', sockets: s, inflight: WS_INFLIGHT, method: 'version-get' },
      baselineName: 'ws echo',
    });
  }

  const rows: Row[] = [];
  let worst: Worst = { what: '', ratio: Infinity, load: {} };
  const cfg = await haPairConfig('load-balancing', 1000, 3000);
  const servers: LivesetProcess[] = [];
  const [http, echo] = await Promise.all([startServerScript('baseline-http.ts', {}), startServerScript('baseline-ws.ts', {})]);
  try {
    servers.push(...(await Promise.all([startLiveset({ config: cfg, server: 'server1' }), startLiveset({ config: cfg, server: 'server2' })])));
    const liveset = servers[0]!.url;
    const run = (url: string, load: Record<string, unknown>) =>
      runScript<LoadReport>('load-client.ts', { ...load, url: load['kind'] === 'ws' ? wsUrl(url) : url, durationMs: o.durationMs, warmupMs: o.warmupMs });
    for (const line of lines) {
      const base = line.baselineName === 'node:http' ? http.url : echo.url;
      const l: LoadReport[] = [];
      const b: LoadReport[] = [];
      for (let i = 0; i < o.rounds; i++) {
        // Alternate which goes first, so neither always follows the other's warm caches or GC debt.
        if (i % 2 === 0) b.push(await run(base, line.load)), l.push(await run(liveset, line.load));
        else l.push(await run(liveset, line.load)), b.push(await run(base, line.load));
      }
      const lm = mean(l);
      const bm = mean(b);
      rows.push({
        group: 'control channel',
        what: line.what,
        liveset: show(lm),
        baseline: `${line.baselineName}: ${show(bm)}`,
        ratio: `${ratio(lm.rps, bm.rps, 'req/s')}; ${ratio(lm.p99, bm.p99, 'p99')}`,
      });
      if (lm.rps / bm.rps < worst.ratio) worst = { what: line.what, ratio: lm.rps / bm.rps, load: line.load };
    }
  } finally {
    await Promise.all([...servers.map((s) => s.stop()), http.stop(), echo.stop()]);
  }
  const notes = [
    `Control channel: a closed-loop load client in its own process (bench/load-client.ts): keep-alive HTTP connections, each sending the next request when the answer is in; ` +
      `WebSockets with ${WS_INFLIGHT} requests outstanding per socket. Each line alternates ${o.rounds} baseline and ${o.rounds} liveset runs ` +
      `(${o.warmupMs} ms warm-up, ${o.durationMs} ms measured) and reports their mean. The node:http baseline answers a fixed Kea-shaped JSON body ` +
      'without parsing the request; the ws baseline echoes each frame. liveset is server1 of a load-balancing pair (1 s heartbeats). ' +
      'Reference: a real Kea 2.2 control agent forwarding status-get answered about 1.8k requests/s on this class of hardware.',
  ];
  return { rows, notes, worst };
}
