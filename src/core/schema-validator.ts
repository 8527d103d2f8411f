import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

const addFormats = addFormatsModule.default;

/** One problem found by validation: where (a JSON pointer) and why. */
export interface SchemaProblem {
  readonly pointer: string;
  readonly message: string;
  /** The problem is the key itself (an unknown key), so point at the key rather than its value. */
  readonly atKey?: boolean;
}

/**
 * The single ajv instance. Schemas are compiled once (at registration or start-up) and the compiled
 * functions reused for every request, as fastify does.
 */
export class SchemaValidator {
  private readonly ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true, useDefaults: true });

  constructor() {
    addFormats(this.ajv);
    // Annotation keywords our schema files use; ajv's strict mode would reject them otherwise.
    this.ajv.addKeyword('positional');
    this.ajv.addKeyword('x-secret');
    // Names code or a file (a library, script, password or key file, a directory): changeable only
    // by editing the file and config-reload, never over the API (src/core/config/locked-fields.ts).
    this.ajv.addKeyword('x-trusted');
  }

  private readonly cache = new WeakMap<object, (value: unknown) => SchemaProblem[]>();

  /** Compiles a schema (once per schema object) into a function listing every problem in a value. */
  compile(schema: Record<string, unknown>): (value: unknown) => SchemaProblem[] {
    const cached = this.cache.get(schema);
    if (cached) return cached;
    const fn: ValidateFunction = this.ajv.compile(schema);
    const check = (value: unknown): SchemaProblem[] => (fn(value) ? [] : describeErrors(fn.errors ?? []));
    this.cache.set(schema, check);
    return check;
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
