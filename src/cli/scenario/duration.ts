/** `500ms`, `2s`, `1.5m` or a number of milliseconds. */
export function parseDuration(value: unknown, fallback: number): number {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return fallback;
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m)$/.exec(value);
  if (m === null) return fallback;
  const n = Number(m[1]);
  return Math.round(m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000);
}
