/** One line of the results table: a liveset figure beside its same-run baseline. */
export interface Row {
  readonly group: string;
  readonly what: string;
  readonly liveset: string;
  readonly baseline: string;
  /** liveset / baseline, with what is divided (e.g. "0.42 (req/s)"). */
  readonly ratio: string;
}

/** What a section hands back: rows for the table, prose for BENCHMARKS.md, raw data for the profile step. */
export interface SectionResult {
  readonly rows: Row[];
  readonly notes: string[];
}

export const fmt = (n: number, digits = 0): string =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a';
export const ms = (n: number): string => (Number.isFinite(n) ? `${n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0)} ms` : 'n/a');
export const ratio = (a: number, b: number, what: string): string =>
  Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? `${(a / b).toFixed(2)} (${what})` : 'n/a';

/** The table as fixed-width text for the terminal. */
export function textTable(rows: readonly Row[]): string {
  const head = ['group', 'benchmark', 'liveset', 'baseline', 'liveset/baseline'];
  const cells = rows.map((r) => [r.group, r.what, r.liveset, r.baseline, r.ratio]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((x, i) => x.padEnd(widths[i]!)).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

/** The table as Markdown. */
export function markdownTable(rows: readonly Row[]): string {
  const esc = (s: string) => s.replaceAll('|', '\\|');
  return [
    '| group | benchmark | liveset | baseline | liveset / baseline |',
    '|---|---|---|---|---|',
    ...rows.map((r) => `| ${esc(r.group)} | ${esc(r.what)} | ${esc(r.liveset)} | ${esc(r.baseline)} | ${esc(r.ratio)} |`),
  ].join('\n');
}
