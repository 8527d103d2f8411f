import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfigText } from '../../src/core/config/load-config.ts';
import { SchemaValidator } from '../../src/core/schema-validator.ts';
import { ConfigError } from '../../src/core/errors.ts';

const validator = new SchemaValidator();
const load = (text: string, env: Record<string, string> = {}, file = 'c.yaml') => loadConfigText(text, file, '/tmp', env, validator);
const problemsOf = (text: string, env: Record<string, string> = {}, file = 'c.yaml'): readonly string[] => {
  try {
    load(text, env, file);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  assert.fail('expected a ConfigError');
};

test('defaults fill in a minimal file', () => {
  const { config } = load('hooks-libraries: []\n');
  assert.equal(config.server['body-limit'], 1048576);
  assert.deepEqual(config.server.services, ['liveset']);
  assert.equal(config.logging.level, 'info');
  assert.equal(config.testing['fault-injection'], false);
});

test('every problem is reported at once, with file, line, column and path', () => {
  const problems = problemsOf(['server:', '  body-limit: "big"', '  colour: blue', 'logging:', '  level: loud', 'hooks-libraries:', '  - parameters: {}'].join('\n'));
  assert.equal(problems.length, 4, problems.join('\n'));
  assert.ok(problems.includes('c.yaml:2:15: server.body-limit: must be integer'), problems.join('\n'));
  assert.ok(problems.includes('c.yaml:3:3: server.colour: is not a known key'), problems.join('\n'));
  assert.ok(problems.some((p) => p.startsWith('c.yaml:5:10: logging.level: must be one of "trace"')), problems.join('\n'));
  assert.ok(problems.some((p) => /^c\.yaml:7:5: hooks-libraries\[0\]\.library: is required$/.test(p)), problems.join('\n'));
});

test('JSON files are parsed strictly and located too', () => {
  assert.match(problemsOf('{"server": {,}}', {}, 'c.json')[0] as string, /^c\.json: not valid JSON/);
  assert.deepEqual(problemsOf('{\n  "testing": {\n    "fault-injection": 1\n  }\n}', {}, 'c.json'), ['c.json:3:24: testing.fault-injection: must be boolean']);
});

test('a key given twice is refused in JSON as in YAML (JSON.parse alone would keep the last)', () => {
  assert.deepEqual(problemsOf('{"server": {"name": "a", "name": "b"}}', {}, 'c.json'), ['c.json:1:26: Map keys must be unique at line 1, column 26:']);
  assert.deepEqual(problemsOf('{"logging": {"level": "info"}, "logg\\u0069ng": {}}', {}, 'c.json'), ['c.json:1:32: Map keys must be unique at line 1, column 32:'], 'an escaped spelling is the same key');
  assert.deepEqual(problemsOf('server:\n  name: a\n  name: b\n'), ['c.yaml:3:3: Map keys must be unique at line 3, column 3:']);
  // The same key in different objects, or as a value, is no duplicate.
  assert.equal(load('{"server": {"name": "name"}, "logging": {"level": "info"}, "testing": {"fault-injection": false}}', {}, 'c.json').config.server.name, 'name');
});

test('${VAR} comes from the environment; unset ones are errors; $${ escapes; ${server} is kept', () => {
  const { config } = load('server:\n  listen: "http://127.0.0.1:${PORT}/"\n  data-dir: "/d/${server}/$${X}"\n  name: "${NAME:-alpha}"\n', { PORT: '9000' });
  assert.equal(config.server.listen, 'http://127.0.0.1:9000/');
  assert.equal(config.server['data-dir'], '/d/${server}/${X}');
  assert.equal(config.server.name, 'alpha');
  assert.deepEqual(problemsOf('server:\n  name: "${MISSING_VAR}"\n'), ['c.yaml:2:9: server.name: environment variable MISSING_VAR is not set']);
});

test('YAML syntax errors carry their position', () => {
  const [problem] = problemsOf('server:\n  name: [unclosed\n');
  assert.match(problem as string, /^c\.yaml:\d+:\d+: /);
});
