import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveCommand } from '../src/cli/runtime-info.ts';
import { keaCommand, startLiveset, waitFor } from '../test/helpers/liveset.ts';
import { runScript, startScript, stopChild } from './lib/children.ts';
import { BENCH_POOL_SECRET, haPairConfig, poolConfig } from './lib/configs.ts';
import { monotonicUs, summarizeProfile, type ProfileSummary } from './lib/cpuprofile.ts';

/**
 * Starts `liveset serve` under `node --cpu-prof` (Node 20 refuses --cpu-prof in NODE_OPTIONS, so
 * the test helper cannot be used). The profile is written when the server exits on SIGTERM.
 */
async function startProfiled(config: Record<string, unknown>, server: string, url: string, dir: string) {
  const file = join(dir, 'liveset.json');
  writeFileSync(file, JSON.stringify(config));
  const { cmd, args } = serveCommand(file, server, ['--log-format', 'json']);
  const child = spawn(cmd, ['--cpu-prof', `--cpu-prof-dir=${dir}`, ...args], { stdio: 'ignore' });
  try {
    await waitFor(async () => (await keaCommand(url, 'list-commands', undefined, { timeoutMs: 1000 })).result === 0, { timeoutMs: 20_000, what: `profiled ${server}` });
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  return { url, stop: () => stopChild(child, 15_000) };
}

const peerUrl = (cfg: Record<string, unknown>, name: string): string => {
  const params = (cfg['hooks-libraries'] as { parameters: any }[])[0]!.parameters;
  const list = (params['high-availability']?.[0]?.peers ?? params.hosts) as { name: string; url: string }[];
  return list.find((p) => p.name === name)!.url;
};

/** The main thread's profile (worker threads, such as a pino transport's, write smaller ones). */
function mainProfile(dir: string): string {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(dir, f));
  if (files.length === 0) throw new Error(`no .cpuprofile in ${dir}`);
  return files.sort((a, b) => statSync(b).size - statSync(a).size)[0]!;
}

/**
 * Profiles server1 of a load-balancing pair (node --cpu-prof) while the load client runs `load`
 * (a load-client.ts spec without url and timings).
 */
export async function profileControlChannel(load: Record<string, unknown>, durationMs: number): Promise<Profiled> {
  const dir = mkdtempSync(join(tmpdir(), 'liveset-bench-prof-'));
  const cfg = await haPairConfig('load-balancing', 1000, 3000);
  const s2 = await startLiveset({ config: cfg, server: 'server2' });
  let s1: Awaited<ReturnType<typeof startProfiled>> | undefined;
  let window: { fromUs: number; toUs: number } | undefined;
  let answers = 0;
  try {
    s1 = await startProfiled(cfg, 'server1', peerUrl(cfg, 'server1'), dir);
    const url = load['kind'] === 'ws' ? new URL('/ws', s1.url.replace(/^http/, 'ws')).href : s1.url;
    const fromUs = monotonicUs();
    answers = (await runScript<{ total: number }>('load-client.ts', { ...load, url, durationMs, warmupMs: 500 })).total;
    window = { fromUs, toUs: monotonicUs() };
  } finally {
    await s1?.stop();
    await s2.stop();
  }
  return { ...summarizeProfile(mainProfile(dir), window), answers };
}

/** Profiles the baseline server (node:http or ws echo) under the same load, for comparison. */
export async function profileBaseline(load: Record<string, unknown>, durationMs: number): Promise<Profiled> {
  const dir = mkdtempSync(join(tmpdir(), 'liveset-bench-prof-'));
  const script = load['kind'] === 'ws' ? 'baseline-ws.ts' : 'baseline-http.ts';
  const s = startScript(script, {}, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
  let window: { fromUs: number; toUs: number } | undefined;
  let answers = 0;
  try {
    const { port } = (await s.firstJson) as { port: number };
    const url = load['kind'] === 'ws' ? `ws://127.0.0.1:${port}/ws` : `http://127.0.0.1:${port}/`;
    const fromUs = monotonicUs();
    answers = (await runScript<{ total: number }>('load-client.ts', { ...load, url, durationMs, warmupMs: 500 })).total;
    window = { fromUs, toUs: monotonicUs() };
  } finally {
    await stopChild(s.child);
  }
  return { ...summarizeProfile(mainProfile(dir), window), answers };
}

/** Profiles a pool master under a heartbeat flood. */
export async function profileHeartbeats(connections: number, durationMs: number): Promise<Profiled> {
  const dir = mkdtempSync(join(tmpdir(), 'liveset-bench-prof-'));
  const cfg = await poolConfig(64);
  const master = await startProfiled(cfg, 'host0', peerUrl(cfg, 'host0'), dir);
  let window: { fromUs: number; toUs: number } | undefined;
  let answers = 0;
  try {
    const records = (await keaCommand(master.url, 'host.get_all_records')).arguments as Record<string, { name_label: string }>;
    const hosts = Object.entries(records).filter(([, h]) => h.name_label !== 'host0').map(([ref]) => ref);
    const fromUs = monotonicUs();
    const r = await runScript<{ beats: number; perSecond: number }>('heartbeat-client.ts', { url: master.url, hosts, mode: 'flood', intervalMs: 1000, connections, warmupMs: 500, durationMs, poolSecret: BENCH_POOL_SECRET });
    answers = Math.round(r.perSecond * ((durationMs + 500) / 1000));
    window = { fromUs, toUs: monotonicUs() };
  } finally {
    await master.stop();
  }
  return { ...summarizeProfile(mainProfile(dir), window), answers };
}

/** A profile and how many answers the server gave while it was taken. */
export type Profiled = ProfileSummary & { readonly answers: number };

const busyPer = (p: Profiled) => (p.answers > 0 ? `; busy ${((p.totalMs * (1 - p.idleShare) * 1000) / p.answers).toFixed(0)} µs of profiled time per answer (${p.answers.toLocaleString('en-US')} answers)` : '');

const pc = (x: number) => `${(x * 100).toFixed(1)} %`;

/** A profile as Markdown: where the busy time went, by area and by function; the baseline's in one paragraph. */
export function profileMarkdown(title: string, p: Profiled, baseline?: Profiled): string {
  const base = baseline
    ? [
        '',
        `Baseline server under the same load: event loop idle ${pc(baseline.idleShare)}${busyPer(baseline)}; busy time by area: ` +
          baseline.byArea.slice(0, 6).map((a) => `${a.area} ${pc(a.share)}`).join(', ') +
          '; top functions: ' +
          baseline.top.slice(0, 6).map((t) => `\`${t.name}\` ${pc(t.share)}`).join(', ') +
          '.',
      ]
    : [];
  return [
    `#### ${title}`,
    '',
    `Profiled window (the load run) ${(p.totalMs / 1000).toFixed(1)} s; event loop idle ${pc(p.idleShare)} of it, garbage collector ${pc(p.gcShare)}${busyPer(p)}. ` +
      'Shares below are of the busy (non-idle) time.',
    '',
    'By area: ' + p.byArea.slice(0, 8).map((a) => `${a.area} ${pc(a.share)}`).join(', ') + '.',
    '',
    '| self time | share of busy | function | where |',
    '|---|---|---|---|',
    ...p.top.map((t) => `| ${t.ms.toFixed(0)} ms | ${pc(t.share)} | \`${t.name}\` | ${t.where} |`),
    ...base,
  ].join('\n');
}
