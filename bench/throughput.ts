import { availableParallelism } from 'node:os';
import { startLiveset, type LivesetProcess } from '../test/helpers/liveset.ts';
import { runScript, startServerScript } from './lib/children.ts';
import { haPairConfig } from './lib/configs.ts';
import { cpuSeconds } from './lib/proc.ts';
import { fmt, ms, ratio, type Row, type SectionResult } from './lib/report.ts';
import { keaJson } from '../src/transports/kea-http/kea-json.ts';

export interface LoadReport {
  requests: number;
  /** Answers over the whole run, warm-up included. */
  total: number;
  /** Server CPU time per answer over the whole run (µs), from /proc/<pid>/stat. */
  cpuUsPerRequest: number;
  /** The load client's own CPU use over the run (1.0 = one core). */
  clientCpuShare: number;
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
  /** An untimed load pass on every server before the first line (JIT warm-up). */
  readonly warmupPass: boolean;
}

/** One measured line, for choosing what to profile. */
export interface Measured {
  readonly what: string;
  /** liveset / baseline requests per second. */
  readonly rpsRatio: number;
  /** liveset / baseline server CPU per request. */
  readonly cpuRatio: number;
  /** The load-client spec of that line (without url and timings), for the profiler. */
  readonly load: Record<string, unknown>;
}

const WS_INFLIGHT = 32;
const keaBody = (command: string) => JSON.stringify({ command });
const rpcBody = (method: string) => JSON.stringify({ jsonrpc: '2.0', id: 1, method });
const wsUrl = (url: string) => new URL('/ws', url.replace(/^http/, 'ws')).href;

const show = (r: LoadReport): string =>
  `${fmt(r.rps)} req/s, p50 ${ms(r.p50)}, p99 ${ms(r.p99)}, ${fmt(r.cpuUsPerRequest)} µs CPU/req${r.errors ? `, ${r.errors} errors (${r.firstError})` : ''}`;

function mean(rs: LoadReport[]): LoadReport {
  const avg = (f: (r: LoadReport) => number) => rs.reduce((a, r) => a + f(r), 0) / rs.length;
  const firstError = rs.find((r) => r.firstError)?.firstError;
  return { requests: avg((r) => r.requests), total: avg((r) => r.total), cpuUsPerRequest: avg((r) => r.cpuUsPerRequest), clientCpuShare: avg((r) => r.clientCpuShare), errors: rs.reduce((a, r) => a + r.errors, 0), rps: avg((r) => r.rps), p50: avg((r) => r.p50), p99: avg((r) => r.p99), ...(firstError ? { firstError } : {}) };
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
export async function throughput(o: ThroughputOptions): Promise<SectionResult & { measured: Measured[] }> {
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
  const measured: Measured[] = [];
  const clientShares: number[] = [];
  const cfg = await haPairConfig('load-balancing', 1000, 3000);
  const servers: LivesetProcess[] = [];
  const [http, echo] = await Promise.all([startServerScript('baseline-http.ts', {}), startServerScript('baseline-ws.ts', {})]);
  try {
    servers.push(...(await Promise.all([startLiveset({ config: cfg, server: 'server1' }), startLiveset({ config: cfg, server: 'server2' })])));
    const liveset = servers[0]!.url;
    const pidOf = new Map([[liveset, servers[0]!.pid!], [http.url, http.child.pid!], [echo.url, echo.child.pid!]]);
    const run = async (url: string, load: Record<string, unknown>): Promise<LoadReport> => {
      const pid = pidOf.get(url)!;
      const c0 = cpuSeconds(pid);
      const r = await runScript<LoadReport>('load-client.ts', { ...load, url: load['kind'] === 'ws' ? wsUrl(url) : url, durationMs: o.durationMs, warmupMs: o.warmupMs });
      return { ...r, cpuUsPerRequest: ((cpuSeconds(pid) - c0) * 1e6) / Math.max(1, r.total) };
    };
    // One untimed pass first, so the first line does not pay for JIT compilation of either server.
    if (o.warmupPass) {
      for (const url of [http.url, liveset]) await run(url, { ...lines[0]!.load, connections: 16 });
      await run(echo.url, lines[lines.length - 1]!.load);
      await run(liveset, lines[lines.length - 1]!.load);
    }
    rows.push(await answerText(liveset));
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
      if (line.load['kind'] === 'http') clientShares.push(lm.clientCpuShare, bm.clientCpuShare);
      rows.push({
        group: 'control channel',
        what: line.what,
        liveset: show(lm),
        baseline: `${line.baselineName}: ${show(bm)}`,
        ratio: `${ratio(lm.rps, bm.rps, 'req/s')}; ${ratio(lm.p99, bm.p99, 'p99')}; ${ratio(lm.cpuUsPerRequest, bm.cpuUsPerRequest, 'CPU/req')}`,
      });
      measured.push({ what: line.what, rpsRatio: lm.rps / bm.rps, cpuRatio: lm.cpuUsPerRequest / bm.cpuUsPerRequest, load: line.load });
    }
  } finally {
    await Promise.all([...servers.map((s) => s.stop()), http.stop(), echo.stop()]);
  }
  const notes = [
    'Kea answer text: the answer list of a live status-get (server1 of the pair) written in Kea\'s layout (src/transports/kea-http/kea-json.ts: sorted keys, ' +
      'Kea\'s spacing and escapes) against compact JSON.stringify, which is what the Kea channel sent before it followed Kea\'s layout; in this process, ' +
      `${TEXT_ROUNDS} alternating rounds of ${TEXT_ROUND_MS} ms each, counted per CPU second of this process. The Kea POST / lines below include it end to end.`,
    `Control channel: a closed-loop load client in its own process (bench/load-client.ts): keep-alive HTTP connections, each sending the next request when the answer is in; ` +
      `WebSockets with ${WS_INFLIGHT} requests outstanding per socket. Each line alternates ${o.rounds} baseline and ${o.rounds} liveset runs ` +
      `(${o.warmupMs} ms warm-up, ${o.durationMs} ms measured) and reports their mean. ` +
      (o.warmupPass ? 'Before the first line every server gets one untimed load pass, so JIT compilation is not charged to the first line. ' : '') +
      `The node:http baseline answers a fixed Kea-shaped JSON body ` +
      'without parsing the request; the ws baseline echoes each frame. liveset is server1 of a load-balancing pair (1 s heartbeats). ' +
      'CPU/req is the server process\'s utime+stime (/proc/<pid>/stat, 10 ms ticks) over the whole run divided by the answers it gave: ' +
      'on a shared 2-core machine it is steadier than req/s, which also depends on what else runs. ' +
      (clientShares.length > 0
        ? `The HTTP load client itself used ${Math.min(...clientShares).toFixed(2)}–${Math.max(...clientShares).toFixed(2)} of a core (mean per line), on a machine with ${availableParallelism()} cores. `
        : '') +
      'Reference: a real Kea 2.2 control agent forwarding status-get answered about 1.8k requests/s on this class of hardware.',
  ];
  return { rows, notes, measured };
}

const TEXT_ROUNDS = 4;
const TEXT_ROUND_MS = 300;

/**
 * The cost of writing Kea's layout instead of compact JSON, for the answer of the command Kea's own
 * figure is for (status-get): answers per second for each, alternating rounds in this process.
 */
async function answerText(url: string): Promise<Row> {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: keaBody('status-get') });
  const answer: unknown = JSON.parse(await res.text());
  const rate = (f: (v: unknown) => string): number => {
    let n = 0;
    let sink = 0;
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    while (performance.now() - t0 < TEXT_ROUND_MS) {
      for (let i = 0; i < 200; i++) sink += f(answer).length;
      n += 200;
    }
    const cpu = process.cpuUsage(c0);
    if (sink === 0) throw new Error('empty answer text');
    // Per CPU second, not wall second: steadier on a shared machine.
    return (n * 1e6) / Math.max(1, cpu.user + cpu.system);
  };
  const kea: number[] = [];
  const compact: number[] = [];
  for (let i = 0; i < TEXT_ROUNDS; i++) {
    if (i % 2 === 0) kea.push(rate(keaJson)), compact.push(rate(JSON.stringify));
    else compact.push(rate(JSON.stringify)), kea.push(rate(keaJson));
  }
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const k = avg(kea);
  const c = avg(compact);
  const show = (r: number) => `${fmt(r)} answers per CPU second (${(1e6 / r).toFixed(1)} µs each)`;
  return { group: 'control channel', what: 'Kea answer text of a status-get answer, in-process', liveset: `Kea layout: ${show(k)}`, baseline: `compact JSON.stringify (before): ${show(c)}`, ratio: ratio(k, c, 'answers/CPU s') };
}
