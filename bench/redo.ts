import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runScript } from './lib/children.ts';
import { summarizeProfile } from './lib/cpuprofile.ts';
import { fmt, ms, ratio, type Row, type SectionResult } from './lib/report.ts';

export interface RedoOptions {
  readonly rounds: number;
  readonly durationMs: number;
  readonly writers: number;
  readonly recoverySizes: readonly number[];
  /** Profile the largest recovery (the one furthest from its baseline). */
  readonly profile: boolean;
}

interface RedoReport {
  raw: number;
  single: number;
  group: number;
  perSync: number;
  recordBytes: number;
  recovery: { records: number; bytes: number; storeMs: number; rawMs: number }[];
}

/** Redo-log durability and recovery, from bench/redo-bench.ts run in its own process. */
export async function redo(o: RedoOptions): Promise<SectionResult & { profile?: string }> {
  const profileFile = o.profile ? join(mkdtempSync(join(tmpdir(), 'liveset-bench-prof-')), 'recovery.cpuprofile') : undefined;
  const r = await runScript<RedoReport>('redo-bench.ts', { ...o, ...(profileFile ? { profileFile } : {}) });
  const raw = `write + fdatasync loop: ${fmt(r.raw)} /s`;
  const rows: Row[] = [
    { group: 'redo log', what: `durable appends/s, 1 writer (${r.recordBytes}-byte records)`, liveset: `${fmt(r.single)} /s`, baseline: raw, ratio: ratio(r.single, r.raw, 'writes/s') },
    {
      group: 'redo log',
      what: `durable appends/s, ${o.writers} concurrent writers (group commit)`,
      liveset: `${fmt(r.group)} /s (${r.perSync.toFixed(1)} records per fdatasync)`,
      baseline: raw,
      ratio: ratio(r.group, r.raw, 'writes/s'),
    },
    ...r.recovery.map((x) => ({
      group: 'redo log',
      what: `recovery (open) of ${fmt(x.records)} records, ${fmt(x.bytes / 1048576, 1)} MiB`,
      liveset: ms(x.storeMs),
      baseline: `readFile + JSON.parse per line: ${ms(x.rawMs)}`,
      ratio: ratio(x.storeMs, x.rawMs, 'time'),
    })),
  ];
  let profile: string | undefined;
  if (profileFile) {
    const p = summarizeProfile(profileFile, undefined, 10);
    const big = r.recovery[r.recovery.length - 1]!;
    profile = [
      `#### Redo-log recovery of ${fmt(big.records)} records (liveset/baseline ${(big.storeMs / big.rawMs).toFixed(2)} time)`,
      '',
      `One open of the log profiled in-process (node:inspector, 100 µs sampling), ${fmt(p.totalMs)} ms; busy time by area: ` +
        p.byArea.slice(0, 6).map((a) => `${a.area} ${(a.share * 100).toFixed(1)} %`).join(', ') + '.',
      '',
      '| self time | share of busy | function | where |',
      '|---|---|---|---|',
      ...p.top.map((t) => `| ${t.ms.toFixed(0)} ms | ${(t.share * 100).toFixed(1)} % | \`${t.name}\` | ${t.where} |`),
    ].join('\n');
  }
  return {
    ...(profile ? { profile } : {}),
    rows,
    notes: [
      `Redo log: src/store/file-store.ts used directly (bench/redo-bench.ts, its own process, files in the OS temp directory). ` +
        `Each append resolves after fdatasync. ${o.rounds} rounds of ${o.durationMs} ms alternating baseline and store, medians reported ` +
        `(the virtual disk's sync latency drifts by 2x between runs). Recovery is the median of ${o.rounds} opens; its baseline reads the same file and JSON-parses each line without checksums.`,
    ],
  };
}
