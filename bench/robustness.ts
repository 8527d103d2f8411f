import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';

/**
 * The robustness figures in BENCHMARKS.md: simulator seeds per second (`npm run sim -- --record`),
 * fuzz inputs per second (`npm run bench -- --fuzz N`) and soak failovers and violations
 * (`npm run soak -- --record`). Each tool writes its own part to bench/robustness/<part>.md; the
 * parts are spliced into BENCHMARKS.md between markers, and a full `npm run bench` keeps them.
 */
export type RobustnessPart = 'sim' | 'fuzz' | 'soak';
const PARTS: readonly RobustnessPart[] = ['sim', 'fuzz', 'soak'];
const START = '<!-- robustness: written by npm run sim/soak -- --record and npm run bench -- --fuzz N -->';
const END = '<!-- /robustness -->';

const partFile = (root: string, part: RobustnessPart) => `${root}bench/robustness/${part}.md`;

/** The "## Robustness" section from the recorded parts (empty when none was recorded). */
export function robustnessSection(root: string): string[] {
  const parts = PARTS.filter((p) => existsSync(partFile(root, p))).map((p) => readFileSync(partFile(root, p), 'utf8').trim());
  if (parts.length === 0) return [];
  return [START, '## Robustness', '', 'Long runs of the testing tools ([docs/testing.md](docs/testing.md)); each line says when and how it was taken.', '', ...parts.flatMap((p) => [p, '']), END, ''];
}

/** Records one part and re-splices the section into BENCHMARKS.md. */
export function recordRobustness(root: string, part: RobustnessPart, markdown: string): void {
  mkdirSync(`${root}bench/robustness`, { recursive: true });
  writeFileSync(partFile(root, part), `${markdown.trim()}\n`);
  const file = `${root}BENCHMARKS.md`;
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const i = current.indexOf(START);
  const j = current.indexOf(END);
  const before = i >= 0 ? current.slice(0, i) : `${current.trimEnd()}\n\n`;
  const after = i >= 0 && j > i ? current.slice(j + END.length).replace(/^\n+/, '') : '';
  writeFileSync(file, `${before}${robustnessSection(root).join('\n')}${after}`);
}

export const stampLine = (what: string): string =>
  `_${what}, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC; load average ${loadavg().map((x) => x.toFixed(1)).join(', ')} (2 cores shared with other work)._`;
