import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { getPath, substitute, variableNames } from '../../../src/cli/scenario/variables.ts';

describe('scenario variables', () => {
  const values: Record<string, unknown> = { 's1.url': 'http://127.0.0.1:8001/', 's1.port': 8001, 'vars.list': ['a'] };
  const lookup = (name: string) => {
    if (!(name in values)) throw new Error(`unknown ${name}`);
    return values[name];
  };

  it('keeps the type of a whole-string placeholder and splices text elsewhere', () => {
    assert.deepEqual(substitute({ port: '${s1.port}', list: '${vars.list}', text: 'at ${s1.url} (${s1.port})' }, lookup), {
      port: 8001,
      list: ['a'],
      text: 'at http://127.0.0.1:8001/ (8001)',
    });
  });

  it('leaves $${...} as a literal ${...} and reports unknown names', () => {
    assert.equal(substitute('$${s1.url}', lookup), '${s1.url}');
    assert.throws(() => substitute(['${nope.url}'], lookup), /unknown nope.url/);
  });

  it('lists placeholders with the pointer of their string', () => {
    assert.deepEqual(variableNames({ a: ['x ${s1.url}', '$${not.this}'], 'b/c': '${vars.x}' }), [
      { name: 's1.url', pointer: '/a/0' },
      { name: 'vars.x', pointer: '/b~1c' },
    ]);
  });

  it('reads dotted paths with indexes out of answers', () => {
    const answer = { arguments: { hosts: [{ name: 'h1' }, { name: 'h2' }] }, result: '' };
    assert.equal(getPath(answer, 'arguments.hosts[1].name'), 'h2');
    assert.equal(getPath(answer, 'result'), '');
    assert.equal(getPath(answer, 'arguments.hosts[5].name'), undefined);
    assert.equal(getPath(answer, 'result.deeper'), undefined);
  });
});
