#!/usr/bin/env node
// The CLI runs the JavaScript that `npm run build` compiles and bundles into dist/ (npm install builds it).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
if (!existsSync(new URL('../dist/cli/build-check.js', import.meta.url))) {
  process.stderr.write(`liveset: ${root}dist/ is missing: run \`npm run build\` in ${root} (npm install does it too)\n`);
  process.exit(1);
}
const { distProblem } = await import('../dist/cli/build-check.js');
const problem = distProblem(root);
if (problem) {
  process.stderr.write(`liveset: ${problem}\n`);
  process.exit(1);
}
await import('../dist/bundle/main.js');
