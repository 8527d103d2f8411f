import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { CommandRegistry } from '../../src/core/commands/command-registry.ts';
import { CalloutRegistry } from '../../src/core/hooks/callouts.ts';
import { SchemaValidator } from '../../src/core/schema-validator.ts';
import { ok } from '../../src/core/commands/answer.ts';
import { CommandError } from '../../src/core/errors.ts';
import { silentLogger } from '../../src/core/logger.ts';
import type { CommandContext } from '../../src/core/commands/command.ts';

const schemaDir = fileURLToPath(new URL('../../schemas/commands/', import.meta.url));
const ctx: CommandContext = { transport: 'internal', positional: false, logger: silentLogger };
const moveSchema = {
  title: 'move',
  description: 'test command',
  positional: ['session_id', 'origin', 'count'],
  arguments: {
    type: 'object',
    additionalProperties: false,
    required: ['origin'],
    properties: { session_id: { type: 'string' }, origin: { enum: ['user', 'ha-partner'] }, count: { type: 'integer', minimum: 1 } },
  },
};

function setup() {
  const callouts = new CalloutRegistry();
  const registry = new CommandRegistry(new SchemaValidator(), schemaDir, callouts);
  let handled = 0;
  registry.register({ name: 'move', schema: moveSchema, handler: (args) => (handled++, ok('moved', args)) }, 'lib-a');
  registry.register({ name: 'explode', schema: { ...moveSchema, title: 'explode', arguments: { type: 'object' } }, handler: () => { throw new Error('boom'); } }, 'lib-a');
  registry.register({ name: 'refuse', schema: { ...moveSchema, title: 'refuse', arguments: { type: 'object' } }, handler: () => { throw new CommandError('HOST_OFFLINE', ['h2']); } }, 'lib-b');
  return { registry, callouts, handled: () => handled };
}

test('unknown commands are result 2 naming the command; inherited names are not commands', async () => {
  const { registry } = setup();
  for (const name of ['nope', 'constructor', 'toString', '__proto__']) {
    const a = await registry.dispatch({ command: name }, ctx);
    assert.equal(a.result, 2);
    assert.equal(a.text, `'${name}' command not supported.`);
  }
});

test('invalid arguments are result 1 naming the field and rule, and the handler never runs', async () => {
  const { registry, handled } = setup();
  const a = await registry.dispatch({ command: 'move', arguments: { origin: 'nobody', count: 0, colour: 1 } }, ctx);
  assert.equal(a.result, 1);
  assert.equal(a.error, 'INVALID_ARGUMENTS');
  assert.match(a.text ?? '', /arguments\.origin: must be one of "user", "ha-partner"/);
  assert.match(a.text ?? '', /arguments\.count: must be >= 1/);
  assert.match(a.text ?? '', /arguments\.colour: is not a known key/);
  assert.match((await registry.dispatch({ command: 'move' }, ctx)).text ?? '', /arguments\.origin: is required/);
  assert.equal(handled(), 0);
});

test('positional params map onto the schema order; too many is a count mismatch', async () => {
  const { registry } = setup();
  const a = await registry.dispatch({ command: 'move', arguments: ['OpaqueRef:s', 'user', 2] }, { ...ctx, positional: true });
  assert.deepEqual(a.arguments, { session_id: 'OpaqueRef:s', origin: 'user', count: 2 });
  const b = await registry.dispatch({ command: 'move', arguments: ['s', 'user', 2, 'extra'] }, { ...ctx, positional: true });
  assert.equal(b.error, 'MESSAGE_PARAMETER_COUNT_MISMATCH');
  assert.deepEqual(b.params, ['move', '3', '4']);
});

test('a throwing handler is result 1 with its message; a CommandError keeps its name', async () => {
  const { registry } = setup();
  const a = await registry.dispatch({ command: 'explode' }, ctx);
  assert.equal(a.result, 1);
  assert.equal(a.text, 'explode failed: boom');
  const b = await registry.dispatch({ command: 'refuse' }, ctx);
  assert.deepEqual([b.error, b.params], ['HOST_OFFLINE', ['h2']]);
});

test('callouts can rewrite arguments, answer instead of the handler, refuse, or replace the answer', async () => {
  const { registry, callouts, handled } = setup();
  callouts.add('command_received', 'lib-a', (bag) => {
    if (bag['command'] !== 'move') return 'continue';
    const args = bag['arguments'] as Record<string, unknown>;
    if (args['origin'] === 'ha-partner') {
      bag['response'] = ok('answered by callout');
      return 'skip';
    }
    args['count'] = 7;
    return 'continue';
  });
  callouts.add('command_received', 'lib-b', (bag) => (bag['command'] === 'explode' ? 'drop' : 'continue'));
  callouts.add('command_processed', 'lib-b', (bag) => {
    if (bag['command'] === 'move') bag['response'] = { ...(bag['response'] as object), text: 'rewritten' };
  });
  const moved = await registry.dispatch({ command: 'move', arguments: { origin: 'user' } }, ctx);
  assert.deepEqual([moved.text, (moved.arguments as { count: number }).count], ['rewritten', 7]);
  assert.equal((await registry.dispatch({ command: 'move', arguments: { origin: 'ha-partner' } }, ctx)).text, 'answered by callout');
  assert.equal(handled(), 1);
  const dropped = await registry.dispatch({ command: 'explode' }, ctx);
  assert.match(dropped.text ?? '', /refused by a hook library/);
});

test('duplicates and registration after freeze are refused, naming the owners', () => {
  const { registry } = setup();
  assert.throws(() => registry.register({ name: 'move', schema: moveSchema, handler: () => ok() }, 'lib-c'), /registered twice: by lib-a and by lib-c/);
  assert.throws(() => registry.register({ name: 'no-schema-file', handler: () => ok() }, 'lib-c'), /cannot load its schema/);
  registry.freeze();
  assert.throws(() => registry.register({ name: 'late', schema: moveSchema, handler: () => ok() }, 'lib-c'), /frozen/);
});

test('every command schema file in schemas/commands compiles and names itself', async () => {
  const { readdirSync, readFileSync } = await import('node:fs');
  const validator = new SchemaValidator();
  for (const file of readdirSync(schemaDir)) {
    const schema = JSON.parse(readFileSync(`${schemaDir}/${file}`, 'utf8'));
    assert.equal(`${schema.title}.json`, file, `${file}: title must be the command name`);
    assert.equal(typeof schema.description, 'string', `${file}: needs a description`);
    validator.compile(schema.arguments);
  }
});
