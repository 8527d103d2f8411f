// The build's precompiled validators (dist/validators/, scripts/compile-schemas.mjs) must answer
// exactly as ajv compiling the same schema at run time: same verdict, same problems, same defaults
// filled in. Runs against the dist/ that `npm test` has just built.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertBuilt, REPO_ROOT } from '../../src/cli/runtime-info.ts';
import { SchemaValidator } from '../../src/core/schema-validator.ts';

const schemaDir = join(REPO_ROOT, 'schemas');
const read = (rel: string) => JSON.parse(readFileSync(join(schemaDir, rel), 'utf8')) as Record<string, unknown>;

/** Every schema the server compiles: the configuration, scenarios, each library's parameters, each command's arguments. */
function allSchemas(): { name: string; schema: Record<string, unknown> }[] {
  return [
    ...['liveset.schema.json', 'scenario.schema.json'].map((f) => ({ name: f, schema: read(f) })),
    ...readdirSync(join(schemaDir, 'libraries')).map((f) => ({ name: `libraries/${f}`, schema: read(`libraries/${f}`) })),
    ...readdirSync(join(schemaDir, 'commands')).map((f) => ({ name: `commands/${f}`, schema: read(`commands/${f}`)['arguments'] as Record<string, unknown> })),
  ];
}

/** Values that break each top-level property in several ways, plus a few shapes of the whole. */
function probes(schema: Record<string, unknown>): unknown[] {
  const props = Object.keys((schema['properties'] as Record<string, unknown> | undefined) ?? {});
  const wrong: unknown[] = ['', 'x', -1, 0, 1.5, true, null, [], [1, 'a'], {}, { unknown: 1 }];
  return [{}, { 'not-a-key': 1 }, [], 'text', 7, null, ...props.flatMap((p) => wrong.map((w) => ({ [p]: w })))];
}

test('every schema in schemas/ has a precompiled validator that answers as ajv does', { timeout: 120_000 }, () => {
  assertBuilt();
  const shipped = new SchemaValidator(join(REPO_ROOT, 'dist', 'validators', '/'));
  const ajv = new SchemaValidator(false);
  let compared = 0;
  for (const { name, schema } of allSchemas()) {
    assert.ok(shipped.isPrecompiled(schema), `${name}: no precompiled validator in dist/validators (is the build current?)`);
    assert.ok(!ajv.isPrecompiled(schema));
    const a = shipped.compile(schema);
    const b = ajv.compile(schema);
    for (const probe of probes(schema)) {
      // useDefaults fills in the value, so each side gets its own copy and the copies are compared too.
      const [x, y] = [structuredClone(probe), structuredClone(probe)];
      assert.deepEqual(a(x), b(y), `${name}: ${JSON.stringify(probe)}`);
      assert.deepEqual(x, y, `${name}: defaults filled into ${JSON.stringify(probe)}`);
      compared++;
    }
  }
  assert.ok(compared > 1000, `${compared} values compared`);
});

test('a schema the build did not see (a library inline schema, an edited file) is compiled by ajv', () => {
  const validator = new SchemaValidator(join(REPO_ROOT, 'dist', 'validators', '/'));
  const schema = { type: 'object', additionalProperties: false, properties: { n: { type: 'integer', default: 3 } } };
  assert.equal(validator.isPrecompiled(schema), false);
  const value: Record<string, unknown> = {};
  assert.deepEqual(validator.compile(schema)(value), []);
  assert.deepEqual(value, { n: 3 });
  assert.deepEqual(validator.compile(schema)({ n: 'x', m: 1 }), [
    { pointer: '/m', message: 'is not a known key', atKey: true },
    { pointer: '/n', message: 'must be integer' },
  ]);
});
