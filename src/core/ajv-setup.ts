import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Ajv, Options } from 'ajv';

// One place for how schemas are compiled, shared by the run-time fallback (schema-validator.ts)
// and the build (scripts/compile-schemas.mjs), so precompiled and run-time validators cannot differ.
// ajv is required only when a schema is compiled: loading and running its compiler was most of a
// server's start-up, and the build ships a precompiled validator for every schema in schemas/.

const OPTIONS: Options = { allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true, useDefaults: true };

/** A configured ajv instance; `code` is for the build (standalone source generation). */
export function createAjv(code?: Options['code']): Ajv {
  const require = createRequire(import.meta.url);
  const { Ajv: AjvClass } = require('ajv') as typeof import('ajv');
  const addFormats = (require('ajv-formats') as typeof import('ajv-formats')).default;
  const ajv = new AjvClass({ ...OPTIONS, ...(code ? { code } : {}) });
  addFormats(ajv);
  // Annotation keywords our schema files use; ajv's strict mode would reject them otherwise.
  ajv.addKeyword('positional');
  ajv.addKeyword('x-secret');
  // Names code or a file (a library, script, password or key file, a directory): changeable only
  // by editing the file and config-reload, never over the API (src/core/config/locked-fields.ts).
  ajv.addKeyword('x-trusted');
  return ajv;
}

/**
 * Names a schema by its content: a precompiled validator is used only for exactly the schema it
 * was generated from, so a schema edited after the build falls back to compiling, never to a stale
 * validator.
 */
export function schemaKey(schema: unknown): string {
  return createHash('sha256').update(JSON.stringify(schema)).digest('hex').slice(0, 32);
}
