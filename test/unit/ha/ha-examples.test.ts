// Every ha example's library parameters pass the schema and the parser for each of its members.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import YAML from 'yaml';
import schema from '../../../schemas/libraries/ha.schema.json' with { type: 'json' };
import { haMembers, parseHaConfig } from '../../../src/hook-libs/ha/ha-config-parser.ts';

const validate = new Ajv({ allErrors: true, keywords: ['x-trusted', 'x-secret'] }).compile(schema);

for (const file of ['ha-pair.yaml', 'ha-hot-standby.yaml', 'ha-passive-backup.yaml']) {
  test(`examples/${file} is a valid ha configuration for each member`, () => {
    const doc = YAML.parse(readFileSync(new URL(`../../../examples/${file}`, import.meta.url), 'utf8')) as {
      'hooks-libraries': { library: string; parameters: unknown }[];
    };
    const ha = doc['hooks-libraries'].find((l) => l.library === 'ha');
    assert.ok(ha !== undefined);
    assert.ok(validate(ha.parameters), JSON.stringify(validate.errors));
    const { members } = haMembers(ha.parameters);
    assert.ok(members.length >= 2);
    for (const m of members) {
      const r = parseHaConfig(ha.parameters, m.name);
      assert.ok(r.ok, r.ok ? '' : r.problems.join('\n'));
    }
  });
}
