import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The directory `name` (ui/, schemas/) shipped at the package root, found by walking up from this
 * module: the same lookup works from src/ under tsx and from a compiled dist/ tree, so a build step
 * never has to copy the assets next to the JavaScript.
 */
export function packageDir(name: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, name);
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the package directory '${name}' above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}
