import { test } from 'node:test';
import assert from 'node:assert/strict';
import { handleJsonRpcText, type RpcDispatch } from '../../src/transports/jsonrpc/jsonrpc-codec.ts';
import { ok } from '../../src/core/commands/answer.ts';
import { errorAnswer } from '../../src/core/commands/error-answer.ts';
import { CommandError } from '../../src/core/errors.ts';

const calls: { command: string; arguments: unknown; positional: boolean }[] = [];
const dispatch: RpcDispatch = async (req, positional) => {
  calls.push({ command: req.command, arguments: req.arguments, positional });
  if (req.command === 'echo') return ok(undefined, req.arguments);
  if (req.command === 'text') return ok('done.');
  if (req.command === 'void') return ok();
  if (req.command === 'offline') return errorAnswer(new CommandError('HOST_OFFLINE', ['host2']));
  if (req.command === 'bad-args') return errorAnswer(new CommandError('INVALID_ARGUMENTS', ['arguments.x: must be integer']));
  return errorAnswer(new CommandError('COMMAND_UNSUPPORTED', [req.command]));
};
const run = async (text: string) => {
  const out = await handleJsonRpcText(text, dispatch);
  return out === undefined ? undefined : JSON.parse(out);
};

test('a call returns the answer arguments as result, or its text, or "" for void', async () => {
  assert.deepEqual(await run('{"jsonrpc":"2.0","id":1,"method":"echo","params":{"a":1}}'), { jsonrpc: '2.0', id: 1, result: { a: 1 } });
  assert.deepEqual(await run('{"jsonrpc":"2.0","id":"x","method":"text"}'), { jsonrpc: '2.0', id: 'x', result: 'done.' });
  assert.deepEqual(await run('{"jsonrpc":"2.0","id":null,"method":"void"}'), { jsonrpc: '2.0', id: null, result: '' });
});

test('protocol faults use JSON-RPC codes; domain errors use XenAPI form', async () => {
  assert.equal((await run('{bad')).error.code, -32700);
  assert.equal((await run('{bad')).id, null);
  assert.equal((await run('{"jsonrpc":"2.0","id":1,"method":"nope"}')).error.code, -32601);
  assert.deepEqual((await run('{"jsonrpc":"2.0","id":1,"method":"bad-args"}')).error, { code: -32602, message: 'Invalid params', data: ['arguments.x: must be integer'] });
  assert.deepEqual((await run('{"jsonrpc":"2.0","id":2,"method":"offline"}')).error, { code: 1, message: 'HOST_OFFLINE', data: ['host2'] });
});

test('envelopes are checked strictly', async () => {
  for (const bad of [
    '{"id":1,"method":"echo"}',
    '{"jsonrpc":"1.0","id":1,"method":"echo"}',
    '{"jsonrpc":"2.0","id":1,"method":42}',
    '{"jsonrpc":"2.0","id":{},"method":"echo"}',
    '{"jsonrpc":"2.0","id":1,"method":"echo","params":3}',
    '{"jsonrpc":"2.0","id":1,"method":"echo","extra":true}',
    '7',
  ]) {
    assert.equal((await run(bad)).error.code, -32600, bad);
  }
  const reserved = await run('{"jsonrpc":"2.0","id":1,"method":"rpc.other"}');
  assert.equal(reserved.error.code, -32601);
  // OpenRPC's discovery method is the one rpc.* extension that reaches dispatch.
  calls.length = 0;
  await run('{"jsonrpc":"2.0","id":1,"method":"rpc.discover"}');
  assert.deepEqual(calls.map((c) => c.command), ['rpc.discover']);
});

test('batches: array replies (even for one), -32600 for an empty batch, nothing for notifications', async () => {
  const one = await run('[{"jsonrpc":"2.0","id":1,"method":"text"}]');
  assert.ok(Array.isArray(one));
  assert.equal(one.length, 1);
  const empty = await run('[]');
  assert.ok(!Array.isArray(empty));
  assert.equal(empty.error.code, -32600);
  calls.length = 0;
  assert.equal(await run('[{"jsonrpc":"2.0","method":"text"},{"jsonrpc":"2.0","method":"void"}]'), undefined);
  assert.equal(calls.length, 2, 'notifications still run');
  const mixed = await run('[{"jsonrpc":"2.0","id":1,"method":"text"},{"jsonrpc":"2.0","method":"void"},1,{"jsonrpc":"2.0","id":3,"method":"nope"}]');
  assert.deepEqual(mixed.map((r: { id: unknown }) => r.id), [1, null, 3]);
  assert.equal(mixed[1].error.code, -32600);
});

test('array params are passed on as positional (XenAPI style)', async () => {
  calls.length = 0;
  await run('{"jsonrpc":"2.0","id":0,"method":"echo","params":["OpaqueRef:s",1]}');
  assert.deepEqual(calls[0], { command: 'echo', arguments: ['OpaqueRef:s', 1], positional: true });
});

test('a batch longer than maxBatch is one -32600 naming server.limits.batch-length, and none of its calls runs', async () => {
  calls.length = 0;
  const batch = JSON.stringify([1, 2, 3].map((id) => ({ jsonrpc: '2.0', id, method: 'echo', params: { id } })));
  const refused = JSON.parse((await handleJsonRpcText(batch, dispatch, { maxBatch: 2 })) as string);
  assert.deepEqual(refused, { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Invalid Request', data: 'a batch of 3 calls exceeds server.limits.batch-length (2)' } });
  assert.equal(calls.length, 0);
  const within = JSON.parse((await handleJsonRpcText(batch, dispatch, { maxBatch: 3 })) as string);
  assert.equal(within.length, 3);
});
