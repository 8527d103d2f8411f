/**
 * The configuration reference: every key of schemas/liveset.schema.json and of each library's
 * parameters schema, with its type, default, meaning and an example, in the order the schema lists
 * them. Pure: schemas in, Markdown out.
 */

type Schema = Record<string, unknown>;

export interface KeyDoc {
  readonly path: string;
  readonly type: string;
  readonly required: boolean;
  readonly default?: unknown;
  readonly meaning: string;
  readonly example?: unknown;
}

/** Follows local `#/definitions/x` references, keeping the referring schema's own keywords. */
function resolve(schema: Schema, root: Schema): Schema {
  const ref = schema['$ref'];
  if (typeof ref !== 'string' || !ref.startsWith('#/')) return schema;
  let target: unknown = root;
  for (const part of ref.slice(2).split('/')) target = (target as Schema | undefined)?.[part];
  const { $ref: _ref, ...own } = schema;
  return { ...resolve((target ?? {}) as Schema, root), ...own };
}

export function typeOf(raw: Schema, root: Schema): string {
  const s = resolve(raw, root);
  if (Array.isArray(s['enum'])) return s['enum'].map((v) => JSON.stringify(v)).join(' | ');
  if ('const' in s) return JSON.stringify(s['const']);
  const alternatives = (s['oneOf'] ?? s['anyOf']) as Schema[] | undefined;
  if (s['type'] === undefined && Array.isArray(alternatives)) return alternatives.map((a) => typeOf(a, root)).join(' or ');
  const types = Array.isArray(s['type']) ? (s['type'] as string[]) : s['type'] !== undefined ? [String(s['type'])] : [];
  return types.map((t) => {
    if (t === 'array') return `array of ${s['items'] ? typeOf(s['items'] as Schema, root) : 'any'}`;
    const bounds: string[] = [];
    if (typeof s['minimum'] === 'number') bounds.push(`≥ ${s['minimum']}`);
    if (typeof s['maximum'] === 'number') bounds.push(`≤ ${s['maximum']}`);
    if (typeof s['format'] === 'string') bounds.push(s['format']);
    if (typeof s['pattern'] === 'string') bounds.push(`matching \`${s['pattern']}\``);
    return bounds.length > 0 ? `${t} (${bounds.join(', ')})` : t;
  }).join(' or ') || 'any';
}

/** Values found in example configurations, by key path (`a.b[].c`), first one seen wins. */
export type ExampleValues = ReadonlyMap<string, unknown>;

/** Collects every value of some example configurations under its key path (first one seen wins). */
export function exampleValues(configs: readonly unknown[]): ExampleValues {
  const found = new Map<string, unknown>();
  const walk = (v: unknown, path: string): void => {
    if (path && !found.has(path)) found.set(path, v);
    if (Array.isArray(v)) {
      if (v.some((x) => x !== null && typeof x === 'object')) for (const x of v) walk(x, `${path}[]`);
    } else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) walk(x, path ? `${path}.${k}` : k);
    }
  };
  for (const c of configs) walk(c, '');
  return found;
}

/**
 * An example value: the schema's own `examples`, else a value from the shipped example
 * configurations, else its default, else the first allowed value.
 */
function exampleOf(s: Schema, seen: unknown): unknown {
  if (Array.isArray(s['examples']) && s['examples'].length > 0) return s['examples'][0];
  if (seen !== undefined) return seen;
  if ('default' in s) return s['default'];
  if (Array.isArray(s['enum'])) return s['enum'][0];
  if ('const' in s) return s['const'];
  if (typeof s['minimum'] === 'number') return s['minimum'];
  return undefined;
}

/** Every key below `schema`, depth first: objects by property, arrays of objects as `key[]`. */
export function keyDocs(schema: Schema, examples: ExampleValues = new Map(), root: Schema = schema, prefix = ''): KeyDoc[] {
  const s = resolve(schema, root);
  const props = (s['properties'] ?? {}) as Record<string, Schema>;
  const required = new Set((s['required'] ?? []) as string[]);
  const out: KeyDoc[] = [];
  for (const [key, raw] of Object.entries(props)) {
    const p = resolve(raw, root);
    const path = prefix ? `${prefix}.${key}` : key;
    const example = exampleOf(p, examples.get(path));
    out.push({
      path,
      type: typeOf(raw, root),
      required: required.has(key),
      ...('default' in p ? { default: p['default'] } : {}),
      meaning: typeof p['description'] === 'string' ? p['description'] : '',
      ...(example !== undefined ? { example } : {}),
    });
    if (p['properties']) out.push(...keyDocs(p, examples, root, path));
    const items = p['items'] ? resolve(p['items'] as Schema, root) : undefined;
    if (items?.['properties']) out.push(...keyDocs(items, examples, root, `${path}[]`));
    for (const alt of (p['oneOf'] ?? []) as Schema[]) if (resolve(alt, root)['properties']) out.push(...keyDocs(alt, examples, root, path));
  }
  return out;
}

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
/** Longer examples (whole sections) are left to the keys below them. */
const EXAMPLE_MAX = 100;
const code = (v: unknown): string => {
  if (v === undefined) return '';
  const json = JSON.stringify(v);
  return json.length > EXAMPLE_MAX ? 'see below' : `\`${cell(json)}\``;
};

export function keyTable(keys: readonly KeyDoc[]): string {
  const lines = ['| key | type | default | example | meaning |', '|---|---|---|---|---|'];
  for (const k of keys) {
    const name = `\`${k.path}\`${k.required ? ' (required)' : ''}`;
    lines.push(`| ${name} | ${cell(k.type)} | ${code(k.default)} | ${code(k.example)} | ${cell(k.meaning)} |`);
  }
  return lines.join('\n');
}

/** The whole configuration reference: the top level, then each library's `parameters`. */
export function configReference(top: Schema, libraries: readonly { name: string; schema: Schema }[], examples: readonly unknown[]): string {
  const topExamples = exampleValues(examples);
  const libExamples = (name: string) => exampleValues(examples.flatMap((c) => {
    const libs = (c as { 'hooks-libraries'?: { library?: string; parameters?: unknown }[] })['hooks-libraries'] ?? [];
    return libs.filter((l) => l.library === name).map((l) => l.parameters);
  }));
  const parts = [
    '# Configuration reference',
    '',
    '<!-- Generated by `npm run docs` from schemas/; edit the schemas, not this file. -->',
    '',
    String(top['description'] ?? ''),
    '',
    'Keys are spelled as in the file (YAML or JSON). Unknown keys are errors. `${VAR}` and `${VAR:-default}` come from the environment.',
    'Examples come from the schema\'s `examples`, else from the files in examples/, else the default.',
    '',
    '## Top level',
    '',
    keyTable(keyDocs(top, topExamples)),
  ];
  for (const lib of libraries) {
    parts.push('', `## Library \`${lib.name}\`: \`hooks-libraries[].parameters\``, '', String(lib.schema['description'] ?? ''), '', keyTable(keyDocs(lib.schema, libExamples(lib.name))));
  }
  return `${parts.join('\n')}\n`;
}
