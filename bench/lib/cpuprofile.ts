import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface SelfTime {
  readonly name: string;
  readonly where: string;
  readonly ms: number;
  readonly share: number;
}

export interface ProfileSummary {
  readonly totalMs: number;
  /** Share of samples with the event loop idle (waiting for I/O or timers). */
  readonly idleShare: number;
  readonly gcShare: number;
  readonly top: SelfTime[];
  /** Self time grouped by where the code lives (liveset source, a dependency, node internals). */
  readonly byArea: { area: string; share: number }[];
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function place(url: string): { where: string; area: string } {
  if (url === '') return { where: '(native)', area: 'native / V8' };
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  if (path.startsWith('node:')) return { where: path, area: 'node internals' };
  const rel = relative(ROOT, path);
  const dep = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(rel);
  if (dep) return { where: rel.replace(/^.*node_modules\//, ''), area: `dependency ${dep[1]}` };
  // Compiled code: dist/ (liveset) and .bench-build/ (bench scripts and the store they use).
  const code = rel.replace(/^\.bench-build\//, '');
  if (/^(src|dist)\//.test(code)) return { where: code, area: code.split('/').slice(0, 2).join('/') };
  return { where: rel, area: 'other' };
}

/** Now on the clock V8 stamps profiles with (CLOCK_MONOTONIC, as process.hrtime), in µs. */
export const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

/**
 * Self time per function of a V8 .cpuprofile, from its samples and time deltas. With `window`
 * (monotonic µs, see monotonicUs) only samples inside it count, which leaves out start-up.
 */
export function summarizeProfile(file: string, window?: { fromUs: number; toUs: number }, topN = 15): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  let at = p.startTime;
  // Each sample's time is the delta to the next sample.
  for (let i = 0; i < p.samples.length; i++) {
    at += p.timeDeltas[i] ?? 0;
    if (window && (at < window.fromUs || at > window.toUs)) continue;
    const dt = p.timeDeltas[i + 1] ?? 0;
    selfUs.set(p.samples[i]!, (selfUs.get(p.samples[i]!) ?? 0) + dt);
  }
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0) || 1;
  const fn = new Map<string, SelfTime & { us: number }>();
  const area = new Map<string, number>();
  let idle = 0;
  let gc = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    const name = n.callFrame.functionName || '(anonymous)';
    if (name === '(idle)') {
      idle += us;
      continue;
    }
    if (name === '(garbage collector)') gc += us;
    const { where, area: a } = place(n.callFrame.url);
    const key = `${name}|${where}:${n.callFrame.lineNumber + 1}`;
    const prev = fn.get(key);
    const sum = (prev?.us ?? 0) + us;
    fn.set(key, { name, where: n.callFrame.url ? `${where}:${n.callFrame.lineNumber + 1}` : where, us: sum, ms: sum / 1000, share: sum / total });
    const areaName = name.startsWith('(') ? name : a;
    area.set(areaName, (area.get(areaName) ?? 0) + us);
  }
  const busy = total - idle || 1;
  return {
    totalMs: total / 1000,
    idleShare: idle / total,
    gcShare: gc / total,
    top: [...fn.values()].sort((a, b) => b.us - a.us).slice(0, topN).map(({ name, where, ms, us }) => ({ name, where, ms, share: us / busy })),
    byArea: [...area.entries()].map(([a, us]) => ({ area: a, share: us / busy })).sort((a, b) => b.share - a.share),
  };
}
