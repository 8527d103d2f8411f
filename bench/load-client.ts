import { Agent, request } from 'node:http';
import { WebSocket } from 'ws';
import { percentile } from './lib/stats.ts';

/**
 * Closed-loop load generator, run as its own process so it does not share an event loop with the
 * server it measures. HTTP: `connections` keep-alive connections, each sending the next request
 * when the previous answer is in. WebSocket: `sockets` connections with `inflight` JSON-RPC
 * requests outstanding on each. Prints one JSON report line.
 */
type Check = 'kea' | 'jsonrpc' | 'none';
interface HttpLoad {
  kind: 'http';
  url: string;
  path: string;
  body: string;
  connections: number;
  durationMs: number;
  warmupMs: number;
  check: Check;
}
interface WsLoad {
  kind: 'ws';
  url: string;
  sockets: number;
  inflight: number;
  method: string;
  params?: unknown;
  durationMs: number;
  warmupMs: number;
}
type Load = HttpLoad | WsLoad;

const load = JSON.parse(process.argv[2] ?? '{}') as Load;
const latencies: number[] = [];
let errors = 0;
let firstError: string | undefined;
let measuring = false;
let done = false;

const nowMs = (): number => performance.now();
/** Answers received over the whole run, warm-up included, for CPU-per-request figures. */
let total = 0;
const record = (startedAt: number, ok: boolean, why?: string): void => {
  total++;
  if (!measuring) return;
  if (ok) latencies.push(nowMs() - startedAt);
  else {
    errors++;
    firstError ??= why;
  }
};

function okBody(text: string, check: Check): boolean {
  if (check === 'none') return true;
  try {
    const v = JSON.parse(text) as any;
    if (check === 'kea') return Array.isArray(v) && (v[0]?.result === 0 || v[0]?.result === 3);
    return v.error === undefined;
  } catch {
    return false;
  }
}

async function runHttp(l: HttpLoad): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: l.connections });
  const target = new URL(l.path, l.url);
  const body = Buffer.from(l.body);
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const startedAt = nowMs();
      const req = request(
        target,
        { method: 'POST', agent, headers: { 'Content-Type': 'application/json', 'Content-Length': body.length } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const ok = res.statusCode === 200 && okBody(text, l.check);
            record(startedAt, ok, ok ? undefined : `HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
            resolve();
          });
        },
      );
      req.on('error', (e) => {
        record(startedAt, false, e.message);
        resolve();
      });
      req.end(body);
    });
  const worker = async (): Promise<void> => {
    while (!done) await one();
  };
  await Promise.all(Array.from({ length: l.connections }, worker));
  agent.destroy();
}

async function runWs(l: WsLoad): Promise<void> {
  const sockets = await Promise.all(
    Array.from({ length: l.sockets }, () =>
      new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(l.url);
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
      }),
    ),
  );
  let nextId = 1;
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise<void>((resolve) => {
          const pending = new Map<number, number>();
          const send = (): void => {
            const id = nextId++;
            pending.set(id, nowMs());
            ws.send(JSON.stringify({ jsonrpc: '2.0', id, method: l.method, ...(l.params === undefined ? {} : { params: l.params }) }));
          };
          ws.on('message', (data: Buffer) => {
            const msg = JSON.parse(data.toString('utf8')) as { id?: number; error?: unknown };
            if (typeof msg.id !== 'number') return; // a notification
            const startedAt = pending.get(msg.id);
            if (startedAt === undefined) return;
            pending.delete(msg.id);
            record(startedAt, msg.error === undefined, JSON.stringify(msg.error));
            if (!done) send();
            else if (pending.size === 0) resolve();
          });
          ws.on('close', () => resolve());
          for (let i = 0; i < l.inflight; i++) send();
        }),
    ),
  );
  for (const ws of sockets) ws.terminate();
}

const startedAt = nowMs();
let measuredFrom = 0;
setTimeout(() => {
  measuring = true;
  measuredFrom = nowMs();
}, load.warmupMs);
let measuredMs = 0;
setTimeout(() => {
  measuredMs = nowMs() - measuredFrom;
  measuring = false;
  done = true;
}, load.warmupMs + load.durationMs);
const cpuBefore = process.cpuUsage();
await (load.kind === 'http' ? runHttp(load) : runWs(load));
const cpu = process.cpuUsage(cpuBefore);
const sorted = latencies.sort((a, b) => a - b);
process.stdout.write(
  JSON.stringify({
    requests: sorted.length,
    total,
    errors,
    firstError,
    rps: sorted.length / (measuredMs / 1000),
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    clientCpuShare: (cpu.user + cpu.system) / 1000 / (nowMs() - startedAt),
  }) + '\n',
);
process.exit(0);
