import type { BuiltinLibraries } from '../core/hooks/library-resolution.ts';

/** The libraries liveset ships, by the name used in `hooks-libraries[].library`. Loaded on demand. */
export const builtinLibraries: BuiltinLibraries = {
  ha: () => import('./ha/index.ts'),
  pool: () => import('./pool/index.ts'),
};
