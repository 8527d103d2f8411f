import type { PreparedConfig } from './config/prepare-config.ts';
import type { ResolvedLibrary } from './hooks/library-resolution.ts';

/**
 * How a new configuration reaches the running libraries:
 * - `in-place`: the same libraries in the same order on the same server, data and configuration
 *   directories and fault-injection switch (everything a library's handle carries besides its
 *   parameters). Libraries whose parameters are unchanged keep running untouched; `changed` ones
 *   are offered the new parameters (HookLibrary.reconfigure) and restarted only if they decline.
 * - `rebuild`: anything else; every library unloads and the new set loads, as at start.
 * PURE.
 */
export type ReloadPlan =
  | { readonly kind: 'in-place'; readonly changed: readonly ResolvedLibrary[] }
  | { readonly kind: 'rebuild'; readonly reason: string };

export function planReload(current: PreparedConfig, next: PreparedConfig): ReloadPlan {
  const context = (p: PreparedConfig) => ({
    server: p.serverName,
    dataDir: p.dataDir,
    configDir: p.loaded.source.dir,
    faults: p.loaded.config.testing['fault-injection'],
  });
  const before = context(current);
  const after = context(next);
  for (const key of Object.keys(before) as (keyof typeof before)[]) {
    if (before[key] !== after[key]) return { kind: 'rebuild', reason: `${key} changed` };
  }
  if (current.libs.length !== next.libs.length || current.libs.some((l, i) => l.library !== next.libs[i]?.library)) {
    return { kind: 'rebuild', reason: 'the set or order of libraries changed' };
  }
  const changed = next.libs.filter((l, i) => !sameJson(l.parameters, current.libs[i]?.parameters));
  return { kind: 'in-place', changed };
}

/** Equal as JSON values (parameters come from YAML/JSON, so key order is the only noise). */
export function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
  }
  return v;
}
