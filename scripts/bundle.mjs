// Bundles the compiled CLI (dist/cli/main.js and everything it imports from dist/) into
// dist/bundle/: main.js plus one chunk per part that is imported on demand (each subcommand, each
// built-in hook library) and shared chunks. Why: Node 20's ES module loader resolves, stats, reads
// (asynchronously), compiles and links every file on its own, and for the ~70 modules of an HA
// server that was about a fifth of the time from launch to the first answer; one module per chunk
// also keeps less per-module state in the heap. Node 20 has no module compile cache to do this.
//
// Only our own code is bundled: packages stay imports of node_modules (`packages: 'external'`), so
// their files, versions and licence headers are what npm installed, and the precompiled validators
// (dist/validators/*.cjs) are still found at run time. Chunks sit one directory below dist/, as
// every compiled module does, so the paths modules take relative to import.meta.url
// (../../package.json, ../../schemas/, ../validators/) point at the same files.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

/** Writes <root>/dist/bundle/ from <root>/dist/cli/main.js (run after tsc). */
export async function bundle(root) {
  const outdir = join(root, 'dist', 'bundle');
  rmSync(outdir, { recursive: true, force: true });
  await build({
    entryPoints: [join(root, 'dist', 'cli', 'main.js')],
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    // Not minified: names and layout stay as tsc wrote them, so stack traces stay readable.
    logLevel: 'warning',
  });
}
