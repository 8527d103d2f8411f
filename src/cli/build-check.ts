import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Written by scripts/build.mjs once tsc has succeeded: when the build started. */
export const BUILD_STAMP = 'dist/build-stamp.json';

/** Files whose change makes dist/ out of date, besides src/. */
const BUILD_INPUTS = ['tsconfig.json', 'tsconfig.build.json'];

function newestChange(dir: string, acc: { file: string; mtimeMs: number }): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newestChange(path, acc);
    else if (entry.name.endsWith('.ts')) {
      const { mtimeMs } = statSync(path);
      if (mtimeMs > acc.mtimeMs) Object.assign(acc, { file: path, mtimeMs });
    }
  }
}

/**
 * Why the compiled code in `<root>/dist` cannot be trusted to match the sources, or undefined
 * when it can. Servers, tests and benchmarks run dist/, so running them on an old build would
 * silently test old code. An installed package has no src/ and is always taken as built.
 */
export function distProblem(root: string): string | undefined {
  const fix = 'run `npm run build` (npm install and npm test do it too)';
  const stampFile = join(root, BUILD_STAMP);
  if (!existsSync(join(root, 'src'))) return existsSync(join(root, 'dist', 'bundle', 'main.js')) ? undefined : `${join(root, 'dist')} is missing from this installation`;
  if (!existsSync(stampFile)) return `liveset is not built (no ${BUILD_STAMP}): ${fix}`;
  const { startedAt } = JSON.parse(readFileSync(stampFile, 'utf8')) as { startedAt: number };
  const newest = { file: '', mtimeMs: 0 };
  newestChange(join(root, 'src'), newest);
  for (const f of BUILD_INPUTS) {
    const path = join(root, f);
    if (existsSync(path) && statSync(path).mtimeMs > newest.mtimeMs) Object.assign(newest, { file: path, mtimeMs: statSync(path).mtimeMs });
  }
  if (newest.mtimeMs > startedAt) {
    return `dist/ is older than the sources (${newest.file.slice(root.length)} changed after the last build): ${fix}`;
  }
  return undefined;
}
