import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Ajv, ErrorObject } from 'ajv';
import { createAjv, schemaKey } from './ajv-setup.ts';

/** One problem found by validation: where (a JSON pointer) and why. */
export interface SchemaProblem {
  readonly pointer: string;
  readonly message: string;
  /** The problem is the key itself (an unknown key), so point at the key rather than its value. */
  readonly atKey?: boolean;
}

/** What ajv's compile and the precompiled modules both give: true or false, with errors when false. */
type Validate = ((value: unknown) => boolean) & { errors?: ErrorObject[] | null };

/** Where the build writes a validator per schema in schemas/ (scripts/compile-schemas.mjs). */
const PRECOMPILED_DIR = fileURLToPath(new URL('../validators/', import.meta.url));

/**
 * Compiles schemas once (at registration, start-up or first use) and reuses the functions for every
 * request, as fastify does. A schema that the build precompiled (dist/validators/, found by a hash
 * of its content) is loaded from there; any other (a library's inline schema, a schema edited
 * since the build, or running from the TypeScript sources) is compiled with ajv, loaded then.
 */
export class SchemaValidator {
  private ajv: Ajv | undefined;
  private readonly cache = new WeakMap<object, (value: unknown) => SchemaProblem[]>();
  private readonly require = createRequire(import.meta.url);

  /** `precompiledDir`: false to always compile with ajv (tests compare the two). */
  constructor(private readonly precompiledDir: string | false = PRECOMPILED_DIR) {}

  /** Compiles a schema (once per schema object) into a function listing every problem in a value. */
  compile(schema: Record<string, unknown>): (value: unknown) => SchemaProblem[] {
    const cached = this.cache.get(schema);
    if (cached) return cached;
    const fn = this.precompiled(schema) ?? (this.ajv ??= createAjv()).compile(schema);
    const check = (value: unknown): SchemaProblem[] => (fn(value) ? [] : describeErrors(fn.errors ?? []));
    this.cache.set(schema, check);
    return check;
  }

  /** True when compiling `schema` is a load of the build's validator rather than a run of ajv. */
  isPrecompiled(schema: Record<string, unknown>): boolean {
    return this.precompiledFile(schema) !== undefined;
  }

  private precompiled(schema: Record<string, unknown>): Validate | undefined {
    const file = this.precompiledFile(schema);
    return file === undefined ? undefined : (this.require(file) as Validate);
  }

  private precompiledFile(schema: Record<string, unknown>): string | undefined {
    if (this.precompiledDir === false) return undefined;
    const file = `${this.precompiledDir}${schemaKey(schema)}.cjs`;
    return existsSync(file) ? file : undefined;
  }
}

/** Turns ajv's errors into one line each that names the field and the rule. */
export function describeErrors(errors: readonly ErrorObject[]): SchemaProblem[] {
  const seen = new Set<string>();
  const out: SchemaProblem[] = [];
  for (const e of errors) {
    // anyOf/oneOf repeat their branches' errors; the branch errors are the informative ones.
    if (e.keyword === 'anyOf' || e.keyword === 'oneOf' || e.keyword === 'if') continue;
    let pointer = e.instancePath;
    let message = e.message ?? 'is invalid';
    let atKey = false;
    const p = e.params as Record<string, unknown>;
    if (e.keyword === 'additionalProperties') {
      pointer = `${pointer}/${String(p['additionalProperty'])}`;
      message = 'is not a known key';
      atKey = true;
    } else if (e.keyword === 'required') {
      pointer = `${pointer}/${String(p['missingProperty'])}`;
      message = 'is required';
    } else if (e.keyword === 'enum') {
      message = `must be one of ${(p['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    } else if (e.keyword === 'const') {
      message = `must be ${JSON.stringify(p['allowedValue'])}`;
    }
    const key = `${pointer} ${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(atKey ? { pointer, message, atKey } : { pointer, message });
  }
  return out;
}

/** `/peers/0/name` → `peers[0].name`, prefixed with a root such as `arguments`. */
export function pointerToPath(root: string, pointer: string): string {
  let path = root;
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    path += /^\d+$/.test(part) ? `[${part}]` : path === '' ? part : `.${part}`;
  }
  return path;
}
