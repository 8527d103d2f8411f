import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, serveCommand } from '../src/cli/runtime-info.ts';
import { startLiveset } from '../test/helpers/liveset.ts';
import { BENCH_JS_DIR, stopChild } from './lib/children.ts';
import { bareConfig, haPairConfig } from './lib/configs.ts';
import { cpuSeconds } from './lib/proc.ts';
import { fmt, ms, ratio, type Row, type SectionResult } from './lib/report.ts';

const median = (xs: readonly number[]): number => summarize(xs).median;
import { summarize } from './lib/stats.ts';

export interface StartupOptions {
  /** Runs of each command (alternating liveset and baseline); medians are reported. */
  readonly runs: number;
}

const BIN = join(REPO_ROOT, 'bin', 'liveset.mjs');
const PRELOAD = `${BENCH_JS_DIR}peak-rss.js`;

/** Runs `args` under node to completion; wall time from spawn to exit and peak RSS (MiB). */
function timeRun(args: readonly string[]): Promise<{ ms: number; peakMiB: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'liveset-bench-rss-'));
  const file = join(dir, 'peak');
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, ['--import', PRELOAD, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PEAK_RSS_FILE: file } });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => {
      const took = performance.now() - t0;
      const kb = Number(readFileSync(file, 'utf8'));
      rmSync(dir, { recursive: true, force: true });
      if (code !== 0) reject(new Error(`${args.join(' ')} exited with ${code}: ${err}`));
      else resolve({ ms: took, peakMiB: kb / 1024 });
    });
  });
}

/** Resolves once `url` gives any HTTP answer to a POST, polling every 5 ms. */
async function firstAnswer(url: string, child: ChildProcess): Promise<void> {
  for (;;) {
    if (child.exitCode !== null) throw new Error('the server exited before answering');
    const answered = await new Promise<boolean>((resolve) => {
      const req = request(url, { method: 'POST', agent: false, headers: { 'Content-Type': 'application/json' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(true));
      });
      req.on('error', () => resolve(false));
      req.end('{"command":"version-get"}');
    });
    if (answered) return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Milliseconds from spawning a server to its first HTTP answer, and the CPU time (ms) the server
 * had used by then (steadier than wall time on a busy machine); the server is stopped after.
 */
async function launch(cmd: { cmd: string; args: string[] }, url: string): Promise<{ wall: number; cpu: number }> {
  const t0 = performance.now();
  const child = spawn(cmd.cmd, cmd.args, { stdio: 'ignore' });
  try {
    await firstAnswer(url, child);
    const wall = performance.now() - t0;
    return { wall, cpu: cpuSeconds(child.pid!) * 1000 };
  } finally {
    await stopChild(child);
  }
}

const mib = (x: number) => `${fmt(x, 1)} MiB`;
const urlOf = (config: Record<string, unknown>, fallback?: string): string =>
  ((config['server'] as { listen?: string }).listen ?? fallback)!;

/**
 * Start-up costs a user pays per command or per restart: `liveset call` (wall time and peak RSS)
 * beside a bare Node.js script sending the same request, and launch-to-first-answer of `liveset
 * serve` (the core alone, and an HA pair member) beside the bare node:http server.
 */
export async function startup(o: StartupOptions): Promise<SectionResult> {
  const rows: Row[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'liveset-bench-startup-'));
  const core = await bareConfig();
  const target = await startLiveset({ config: core });
  try {
    const live: { ms: number; peakMiB: number }[] = [];
    const base: { ms: number; peakMiB: number }[] = [];
    for (let i = 0; i < o.runs; i++) {
      live.push(await timeRun([BIN, 'call', 'version-get', '--url', target.url]));
      base.push(await timeRun([`${BENCH_JS_DIR}baseline-call.js`, target.url]));
    }
    const [lm, bm] = [median(live.map((r) => r.ms)), median(base.map((r) => r.ms))];
    const [lr, br] = [median(live.map((r) => r.peakMiB)), median(base.map((r) => r.peakMiB))];
    rows.push({
      group: 'start-up',
      what: '`liveset call version-get`: wall time, spawn to exit (goal ≤ 300 ms)',
      liveset: ms(lm),
      baseline: `node:http script: ${ms(bm)}`,
      ratio: ratio(lm, bm, 'time'),
    });
    rows.push({
      group: 'start-up',
      what: '`liveset call version-get`: peak RSS (goal ≤ 60 MB)',
      liveset: mib(lr),
      baseline: `node:http script: ${mib(br)}`,
      ratio: ratio(lr, br, 'RSS'),
    });
  } finally {
    await target.stop();
  }

  const ha = await haPairConfig('load-balancing', 1000, 3000);
  const haUrl = ((ha['hooks-libraries'] as { parameters: any }[])[0]!.parameters['high-availability'][0].peers[0].url) as string;
  const coreFile = join(dir, 'core.json');
  const haFile = join(dir, 'ha.json');
  writeFileSync(coreFile, JSON.stringify({ ...core, server: { ...(core['server'] as object), name: 'core' } }));
  writeFileSync(haFile, JSON.stringify(ha));
  const coreUrl = urlOf(core);
  const basePort = Number(new URL(coreUrl).port);
  const times = { core: [] as { wall: number; cpu: number }[], ha: [] as { wall: number; cpu: number }[], base: [] as { wall: number; cpu: number }[] };
  for (let i = 0; i < o.runs; i++) {
    times.base.push(await launch({ cmd: process.execPath, args: [`${BENCH_JS_DIR}baseline-http.js`, JSON.stringify({ port: basePort })] }, coreUrl));
    times.core.push(await launch(serveCommand(coreFile, 'core', ['--log-format', 'json']), coreUrl));
    times.ha.push(await launch(serveCommand(haFile, 'server1', ['--log-format', 'json']), haUrl));
  }
  rmSync(dir, { recursive: true, force: true });
  const b = median(times.base.map((x) => x.wall));
  const bc = median(times.base.map((x) => x.cpu));
  for (const [what, t] of [['core only', times.core], ['HA pair member (partner down)', times.ha]] as const) {
    const m = median(t.map((x) => x.wall));
    const c = median(t.map((x) => x.cpu));
    rows.push({
      group: 'start-up',
      what: `\`liveset serve\` (${what}): launch to first answer (goal ≤ 2× baseline); CPU used by then`,
      liveset: `${ms(m)}; ${ms(c)} CPU`,
      baseline: `node:http: ${ms(b)}; ${ms(bc)} CPU`,
      ratio: `${ratio(m, b, 'time')}; ${ratio(c, bc, 'CPU')}`,
    });
  }
  return {
    rows,
    notes: [
      `Start-up: each figure is the median of ${o.runs} runs, liveset and baseline alternating. \`liveset call\` runs as a user runs it from this checkout ` +
        '(`node bin/liveset.mjs call version-get --url ...` against a running core-only server, including bin/\'s check that dist/ is built); ' +
        'wall time from spawn to exit as seen by the bench process, peak RSS is the process\'s VmHWM written at exit by a preloaded module. ' +
        'Its baseline is a bare Node.js script that POSTs the same command with node:http and prints the answer. Launch to first answer: time from spawning ' +
        '`liveset serve` (dist/bundle/main.js, the bundle bin/ runs) until a POST on its port gets any HTTP answer, polled every 5 ms; the baseline is the bare node:http server ' +
        'on the same port, polled the same way. The CPU figure is the server\'s utime+stime (/proc/<pid>/stat, 10 ms ticks) when the first answer came: on a busy machine it is steadier than wall time. The HA member is server1 of a load-balancing pair whose partner is not running.',
    ],
  };
}
