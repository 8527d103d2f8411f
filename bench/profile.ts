import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveCommand } from '../src/cli/runtime-info.ts';
import { keaCommand, startLiveset, waitFor } from '../test/helpers/liveset.ts';
import { runScript, stopChild } from './lib/children.ts';
import { haPairConfig, poolConfig } from './lib/configs.ts';
import { summarizeProfile, type ProfileSummary } from './lib/cpuprofile.ts';

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

/** The main thread's profile: tsx's loader thread writes a second, smaller one. */
function mainProfile(dir: string): string {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(dir, f));
  if (files.length === 0) throw new Error(`no .cpuprofile in ${dir}`);
  return files.sort((a, b) => statSync(b).size - statSync(a).size)[0]!;
}

/**
 * Profiles server1 of a load-balancing pair (node --cpu-prof) while the load client runs `load`
 * (a load-client.ts spec without url and timings).
 */
export async function profileControlChannel(load: Record<string, unknown>, durationMs: number): Promise<ProfileSummary> {
  const dir = mkdtempSync(join(tmpdir(), 'liveset-bench-prof-'));
  const cfg = await haPairConfig('load-balancing', 1000, 3000);
  const s2 = await startLiveset({ config: cfg, server: 'server2' });
  let s1: Awaited<ReturnType<typeof startProfiled>> | undefined;
  try {
    s1 = await startProfiled(cfg, 'server1', peerUrl(cfg, 'server1'), dir);
    const url = load['kind'] === 'ws' ? new URL('/ws', s1.url.replace(/^http/, 'ws')).href : s1.url;
    await runScript('load-client.ts', { ...load, url, durationMs, warmupMs: 500 });
  } finally {
    await s1?.stop();
    await s2.stop();
  }
  return summarizeProfile(mainProfile(dir));
}

/** Profiles a pool master under a heartbeat flood. */
export async function profileHeartbeats(connections: number, durationMs: number): Promise<ProfileSummary> {
  const dir = mkdtempSync(join(tmpdir(), 'liveset-bench-prof-'));
  const cfg = await poolConfig(64);
  const master = await startProfiled(cfg, 'host0', peerUrl(cfg, 'host0'), dir);
  try {
    const records = (await keaCommand(master.url, 'host.get_all_records')).arguments as Record<string, { name_label: string }>;
    const hosts = Object.entries(records).filter(([, h]) => h.name_label !== 'host0').map(([ref]) => ref);
    await runScript('heartbeat-client.ts', { url: master.url, hosts, mode: 'flood', intervalMs: 1000, connections, warmupMs: 500, durationMs });
  } finally {
    await master.stop();
  }
  return summarizeProfile(mainProfile(dir));
}

const pc = (x: number) => `${(x * 100).toFixed(1)} %`;

/** A profile as Markdown: where the busy time went, by area and by function. */
export function profileMarkdown(title: string, p: ProfileSummary): string {
  return [
    `#### ${title}`,
    '',
    `Profile length ${(p.totalMs / 1000).toFixed(1)} s; event loop idle ${pc(p.idleShare)} of it, garbage collector ${pc(p.gcShare)}. ` +
      'Shares below are of the busy (non-idle) time.',
    '',
    'By area: ' + p.byArea.slice(0, 8).map((a) => `${a.area} ${pc(a.share)}`).join(', ') + '.',
    '',
    '| self time | share of busy | function | where |',
    '|---|---|---|---|',
    ...p.top.map((t) => `| ${t.ms.toFixed(0)} ms | ${pc(t.share)} | \`${t.name}\` | ${t.where} |`),
  ].join('\n');
}
