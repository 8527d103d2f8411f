import { createRequire } from 'node:module';
import type { Document, LineCounter } from 'yaml';
import { ConfigError } from '../errors.ts';
import type { ConfigSource } from './config-types.ts';
import type { SchemaProblem } from '../schema-validator.ts';
import { hasDuplicateKey } from './json-keys.ts';

/** Placeholders filled in by the server itself, not from the environment. */
const BUILTIN_PLACEHOLDERS = new Set(['server']);

type Yaml = typeof import('yaml');
/** A YAML document and where its lines start (for line and column numbers). */
interface Positioned {
  readonly doc: Document;
  readonly lines: LineCounter;
}
let yamlModule: Yaml | undefined;
/**
 * yaml (some 70 files) is loaded only for a YAML file, or for a JSON file once a problem needs a
 * line and column: a JSON configuration that is fine never needs it, and loading it was a fifth
 * of a server's start-up.
 */
const yaml = (): Yaml => (yamlModule ??= createRequire(import.meta.url)('yaml') as Yaml);

/**
 * Parses YAML or JSON text into a plain value and a locator for error positions. JSON is chosen by
 * the `.json` extension, else by content (a leading `{` or `[`); JSON syntax is checked strictly with
 * JSON.parse, and the YAML parser (a JSON superset) supplies line and column numbers for both. A
 * duplicated key is refused in both (JSON text that has one goes the YAML way for the same message).
 */
export function parseConfigText(text: string, file: string, dir: string): { value: unknown; source: ConfigSource } {
  const looksJson = file.endsWith('.json') || /^\s*[{[]/.test(text);
  if (looksJson) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new ConfigError([`${file}: not valid JSON: ${(err as Error).message}`]);
    }
    if (!hasDuplicateKey(text)) {
      let doc: Positioned | undefined;
      return { value: value ?? {}, source: sourceOf(file, dir, () => (doc ??= parseYamlDocument(text, file))) };
    }
  }
  const parsed = parseYamlDocument(text, file);
  const value: unknown = parsed.doc.toJS({ maxAliasCount: 100 }) ?? {};
  return { value, source: sourceOf(file, dir, () => parsed) };
}

/** The YAML document with node positions; ConfigError listing the parser's errors. */
function parseYamlDocument(text: string, file: string): Positioned {
  const { LineCounter: Lines, parseDocument } = yaml();
  const lines = new Lines();
  const doc: Document = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        return `${file}${pos ? `:${pos.line}:${pos.col}` : ''}: ${e.message.split('\n')[0]}`;
      }),
    );
  }
  return { doc, lines };
}

function sourceOf(file: string, dir: string, parsed: () => Positioned): ConfigSource {
  return {
    file,
    dir,
    locate(pointer, atKey = false) {
      const { isMap, isNode, isScalar } = yaml();
      const { doc, lines } = parsed();
      const path = pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
      if (atKey && path.length > 0) {
        const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1).map((p) => (/^\d+$/.test(p) ? Number(p) : p)), true);
        const pair = isMap(parent) ? parent.items.find((it) => isScalar(it.key) && String(it.key.value) === path[path.length - 1]) : undefined;
        if (pair && isNode(pair.key) && pair.key.range) {
          const pos = lines.linePos(pair.key.range[0]);
          return { line: pos.line, col: pos.col };
        }
      }
      // Walk up until a node exists: a missing key is reported at its parent object.
      for (let n = path.length; n >= 0; n--) {
        const node = doc.getIn(path.slice(0, n).map((p) => (/^\d+$/.test(p) ? Number(p) : p)), true);
        if (isNode(node) && node.range) {
          const pos = lines.linePos(node.range[0]);
          return { line: pos.line, col: pos.col };
        }
      }
      return undefined;
    },
  };
}

/**
 * Replaces `${VAR}` (and `${VAR:-default}`) in every string value with the environment variable.
 * `$${` escapes a literal `${`. `${server}` is left for the server to fill in. Every unset variable
 * is reported with the place that uses it.
 */
export function substituteEnv(value: unknown, env: Readonly<Record<string, string | undefined>>): { value: unknown; problems: SchemaProblem[] } {
  const problems: SchemaProblem[] = [];
  const walk = (v: unknown, pointer: string): unknown => {
    if (typeof v === 'string') {
      return v.replace(/\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (whole, escape: string, name: string, fallback?: string) => {
        if (escape) return whole.slice(1);
        if (BUILTIN_PLACEHOLDERS.has(name)) return whole;
        const found = env[name];
        if (found !== undefined) return found;
        if (fallback !== undefined) return fallback;
        problems.push({ pointer, message: `environment variable ${name} is not set` });
        return whole;
      });
    }
    if (Array.isArray(v)) return v.map((item, i) => walk(item, `${pointer}/${i}`));
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, item]) => [k, walk(item, `${pointer}/${k}`)]));
    }
    return v;
  };
  return { value: walk(value, ''), problems };
}
