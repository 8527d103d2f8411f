/** Percentile of an unsorted sample by nearest rank; NaN for an empty sample. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** min / median / max / p50 / p99 of a sample. */
export function summarize(values: readonly number[]): { n: number; min: number; median: number; max: number; p50: number; p99: number } {
  const s = [...values].sort((a, b) => a - b);
  return {
    n: s.length,
    min: s[0] ?? NaN,
    median: percentile(s, 50),
    max: s[s.length - 1] ?? NaN,
    p50: percentile(s, 50),
    p99: percentile(s, 99),
  };
}
