#!/usr/bin/env node
// npm run build: tsc compiles src/ into dist/ (incrementally), outputs whose source is gone are
// removed, ajv's standalone validators are generated from schemas/ (scripts/compile-schemas.mjs),
// esbuild bundles the CLI into dist/bundle/ (scripts/bundle.mjs: what bin/ and every server run),
// then a stamp records when the build started, so a source file saved during or after
// the build makes dist/ count as stale (src/cli/build-check.ts).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle } from './bundle.mjs';
import { compileSchemas } from './compile-schemas.mjs';

const root = fileURLToPath(new URL('../', import.meta.url));
const dist = join(root, 'dist');
const startedAt = Date.now();
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);

function prune(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (path !== join(dist, 'bundle')) prune(path);
    }
    else if (entry.name.endsWith('.js') && !existsSync(join(root, 'src', relative(dist, path)).replace(/\.js$/, '.ts'))) rmSync(path);
  }
}
prune(dist);
await compileSchemas(root);
await bundle(root);
writeFileSync(join(dist, 'build-stamp.json'), `${JSON.stringify({ startedAt, builtAt: new Date().toISOString() })}\n`);
