import type { ScenarioResult, StepResult } from './runner.ts';

const MARK: Record<StepResult['status'], string> = { passed: '✓', failed: '✗', skipped: '-' };
const MAX_LINES = 40;
const COLUMN = 58;

const seconds = (ms: number): string => (ms / 1000).toFixed(ms < 10_000 ? 2 : 1);

/**
 * The part of `actual` that `expected` talks about, so the two can be read side by side:
 * object keys the expectation names, arrays element by element; everything else whole.
 */
export function focus(expected: unknown, actual: unknown): unknown {
  if (expected === null || typeof expected !== 'object' || actual === null || typeof actual !== 'object') return actual;
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length ? actual.map((a, i) => focus(expected[i], a)) : actual;
  }
  if (Array.isArray(actual) || '$contains' in expected) return actual;
  const a = actual as Record<string, unknown>;
  return Object.fromEntries(Object.keys(expected).filter((k) => k in a).map((k) => [k, focus((expected as Record<string, unknown>)[k], a[k])]));
}

function lines(value: unknown): string[] {
  const text = value === undefined ? '(nothing)' : JSON.stringify(value, null, 2);
  const all = text.split('\n');
  return all.length > MAX_LINES ? [...all.slice(0, MAX_LINES), `… ${all.length - MAX_LINES} more lines`] : all;
}

/** Expected and actual next to each other, the actual narrowed to what the expectation names. */
export function sideBySide(expected: unknown, actual: unknown): string[] {
  const left = lines(expected);
  const right = lines(focus(expected, actual));
  const width = Math.min(COLUMN, Math.max(8, ...left.map((l) => l.length)));
  const clip = (s: string) => (s.length > width ? `${s.slice(0, width - 1)}…` : s.padEnd(width));
  const out = [`${clip('expected')} │ actual`, `${'─'.repeat(width)}─┼─${'─'.repeat(width)}`];
  for (let i = 0; i < Math.max(left.length, right.length); i++) out.push(`${clip(left[i] ?? '')} │ ${right[i] ?? ''}`);
  return out;
}

/** One line per step as it finishes, plus details for a failure. */
export function formatStep(r: StepResult): string[] {
  const where = r.servers.length > 0 ? ` [${r.servers.join(', ')}]` : '';
  const extra = r.polls !== undefined ? `, ${r.polls} poll${r.polls === 1 ? '' : 's'}` : '';
  const time = r.status === 'skipped' ? 'skipped' : `${r.durationMs} ms${extra}`;
  const out = [`  ${MARK[r.status]} ${String(r.index).padStart(2)}  ${r.name}${where}  (${time})`];
  if (r.status === 'failed') {
    out.push(`        ${r.message ?? 'failed'}${r.line === undefined ? '' : ` (step at line ${r.line})`}`);
    if (r.expected !== undefined || r.actual !== undefined) out.push(...sideBySide(r.expected, r.actual).map((l) => `        ${l}`));
  }
  return out;
}

export function formatScenarioStart(name: string, file: string, servers: readonly string[]): string {
  return `scenario: ${name} (${file})${servers.length > 0 ? `\n  servers: ${servers.join(', ')}` : ''}`;
}

/** The end of one scenario: a result line, and on failure each server's last log lines. */
export function formatScenarioEnd(r: ScenarioResult): string[] {
  const counts = (s: StepResult['status']) => r.steps.filter((x) => x.status === s).length;
  const out: string[] = [];
  if (r.setupError !== undefined) out.push(`  ✗ ${r.setupError}`);
  for (const [server, logLines] of Object.entries(r.logs)) {
    out.push(`  --- last ${logLines.length} log lines of ${server} ---`, ...logLines.map((l) => `  ${server} | ${l}`));
  }
  out.push(`  ${r.status.toUpperCase()}: ${counts('passed')} passed, ${counts('failed')} failed, ${counts('skipped')} skipped in ${seconds(r.durationMs)} s`, '');
  return out;
}

export function formatSummary(results: readonly ScenarioResult[], totalMs: number): string[] {
  const ok = results.filter((r) => r.status === 'passed').length;
  return [
    `${results.length} scenario${results.length === 1 ? '' : 's'}: ${ok} passed, ${results.length - ok} not passed (${seconds(totalMs)} s)`,
    ...results.map((r) => `  ${r.status === 'passed' ? '✓' : '✗'} ${r.name} — ${r.status}`),
  ];
}

const xml = (s: string): string =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c)
    // XML 1.0 cannot carry most control characters, even escaped.
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');

/** A JUnit XML report: one testsuite per scenario, one testcase per step. */
export function junitXml(results: readonly ScenarioResult[]): string {
  const out = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const all = results.flatMap((r) => r.steps);
  const failures = (steps: readonly StepResult[]) => steps.filter((s) => s.status === 'failed').length;
  const skipped = (steps: readonly StepResult[]) => steps.filter((s) => s.status === 'skipped').length;
  const errors = results.filter((r) => r.setupError !== undefined).length;
  const total = results.reduce((t, r) => t + r.durationMs, 0);
  out.push(`<testsuites name="liveset scenarios" tests="${all.length + errors}" failures="${failures(all)}" errors="${errors}" skipped="${skipped(all)}" time="${seconds(total)}">`);
  for (const r of results) {
    const e = r.setupError === undefined ? 0 : 1;
    out.push(`  <testsuite name="${xml(r.name)}" file="${xml(r.file)}" tests="${r.steps.length + e}" failures="${failures(r.steps)}" errors="${e}" skipped="${skipped(r.steps)}" time="${seconds(r.durationMs)}">`);
    if (r.setupError !== undefined) {
      out.push(`    <testcase classname="${xml(r.name)}" name="00 set-up" time="0"><error message="${xml(r.setupError)}"/></testcase>`);
    }
    for (const s of r.steps) {
      const head = `    <testcase classname="${xml(r.name)}" name="${xml(`${String(s.index).padStart(2, '0')} ${s.name}`)}" time="${seconds(s.durationMs)}"${s.line === undefined ? '' : ` file="${xml(r.file)}" line="${s.line}"`}`;
      if (s.status === 'passed') out.push(`${head}/>`);
      else if (s.status === 'skipped') out.push(`${head}><skipped message="an earlier step failed"/></testcase>`);
      else {
        const body = s.expected !== undefined || s.actual !== undefined ? sideBySide(s.expected, s.actual).join('\n') : '';
        out.push(`${head}><failure message="${xml(s.message ?? 'failed')}" type="${s.action}">${xml(body)}</failure></testcase>`);
      }
    }
    const logs = Object.entries(r.logs).flatMap(([server, l]) => l.map((line) => `${server} | ${line}`));
    if (logs.length > 0) out.push(`    <system-out>${xml(logs.join('\n'))}</system-out>`);
    out.push('  </testsuite>');
  }
  out.push('</testsuites>', '');
  return out.join('\n');
}
