/**
 * `${...}` placeholders in scenario steps: `${server1.url}`, `${server1.port}`, `${vars.NAME}`,
 * `${env.NAME}`. `$${` is a literal `${`. A string that is exactly one placeholder takes the
 * value's own type (a port stays a number); elsewhere values are spliced in as text.
 */
const PLACEHOLDER = /\$(\$?)\{([^}]*)\}/g;
const WHOLE = /^\$\{([^}]*)\}$/;

/** Every placeholder used anywhere in `value`, with the JSON pointer (below `value`) of its string. */
export function variableNames(value: unknown): { name: string; pointer: string }[] {
  const found: { name: string; pointer: string }[] = [];
  walkStrings(value, '', (s, pointer) => {
    for (const m of s.matchAll(PLACEHOLDER)) if (m[1] === '' && m[2] !== undefined) found.push({ name: m[2], pointer });
  });
  return found;
}

function walkStrings(value: unknown, pointer: string, fn: (s: string, pointer: string) => void): void {
  if (typeof value === 'string') fn(value, pointer);
  else if (Array.isArray(value)) value.forEach((v, i) => walkStrings(v, `${pointer}/${i}`, fn));
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) walkStrings(v, `${pointer}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, fn);
  }
}

/** Replaces placeholders everywhere in `value`; `lookup` throws for a name it cannot resolve. */
export function substitute<T>(value: T, lookup: (name: string) => unknown): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      const whole = WHOLE.exec(v);
      if (whole?.[1] !== undefined) return lookup(whole[1]);
      return v.replace(PLACEHOLDER, (all, escape: string, name: string) => (escape === '$' ? all.slice(1) : asText(lookup(name))));
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}

const asText = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v) ?? String(v));

/** Reads `arguments.hosts[0].name` out of an answer; undefined when any part is missing. */
export function getPath(value: unknown, path: string): unknown {
  let current = value;
  for (const part of path.match(/[^.[\]]+|\[\d+\]/g) ?? []) {
    if (current === null || typeof current !== 'object') return undefined;
    const key = part.startsWith('[') ? Number(part.slice(1, -1)) : part;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}
