import { Agent, request } from 'node:http';
import { percentile } from './lib/stats.ts';

/**
 * Stands in for pool slaves: sends host.tickle_heartbeat to the master over the Kea control channel,
 * as a slave does. `paced`: every host once per `intervalMs`, spread evenly over the interval, the
 * next beat scheduled after the previous answer (a slow master slows its slaves, as in the pool).
 * `flood`: `connections` loops sending beats back to back, to find the most the master sustains.
 */
interface Load {
  url: string;
  hosts: string[];
  mode: 'paced' | 'flood';
  intervalMs: number;
  connections: number;
  warmupMs: number;
  durationMs: number;
  /** The pool secret: host.tickle_heartbeat is peer-only, sent as basic auth user liveset-pool, as a slave does. */
  poolSecret: string;
}
const load = JSON.parse(process.argv[2] ?? '{}') as Load;
const agent = new Agent({ keepAlive: true, maxSockets: load.mode === 'paced' ? load.hosts.length : load.connections });
const target = new URL('/', load.url);
const authorization = `Basic ${Buffer.from(`liveset-pool:${load.poolSecret}`).toString('base64')}`;
const latencies: number[] = [];
let errors = 0;
let firstError: string | undefined;
let measuring = false;
let done = false;

function beat(host: string): Promise<void> {
  const body = Buffer.from(JSON.stringify({ command: 'host.tickle_heartbeat', arguments: { host, stuff: { time: String(Math.floor(Date.now() / 1000)) } } }));
  const startedAt = performance.now();
  const counted = measuring;
  return new Promise((resolve) => {
    const fail = (why: string) => {
      if (counted) {
        errors++;
        firstError ??= why;
      }
      resolve();
    };
    const req = request(target, { method: 'POST', agent, headers: { 'Content-Type': 'application/json', 'Content-Length': body.length, Authorization: authorization } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let ok = false;
        try {
          const v = JSON.parse(text) as { result: number }[];
          ok = res.statusCode === 200 && v[0]?.result === 0;
        } catch {
          ok = false;
        }
        if (!ok) return fail(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
        if (counted) latencies.push(performance.now() - startedAt);
        resolve();
      });
    });
    req.on('error', (e) => fail(e.message));
    req.end(body);
  });
}

async function paced(): Promise<void> {
  const n = load.hosts.length;
  await Promise.all(
    load.hosts.map(async (host, i) => {
      let due = performance.now() + (i * load.intervalMs) / n;
      while (!done) {
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (done) break;
        await beat(host);
        due = Math.max(due + load.intervalMs, performance.now());
      }
    }),
  );
}

async function flood(): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: load.connections }, async () => {
      while (!done) await beat(load.hosts[next++ % load.hosts.length]!);
    }),
  );
}

let measuredFrom = 0;
let measuredMs = 0;
setTimeout(() => {
  measuring = true;
  measuredFrom = performance.now();
}, load.warmupMs);
setTimeout(() => {
  measuredMs = performance.now() - measuredFrom;
  measuring = false;
  done = true;
}, load.warmupMs + load.durationMs);
await (load.mode === 'paced' ? paced() : flood());
agent.destroy();
const s = latencies.sort((a, b) => a - b);
process.stdout.write(JSON.stringify({ beats: s.length, errors, firstError, perSecond: s.length / (measuredMs / 1000), p50: percentile(s, 50), p99: percentile(s, 99) }) + '\n');
process.exit(0);
