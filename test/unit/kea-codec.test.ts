import { test } from 'node:test';
import assert from 'node:assert/strict';
import { handleKeaText, parseKeaBody } from '../../src/transports/kea-http/kea-codec.ts';
import { toKeaAnswer } from '../../src/transports/answer-mapping.ts';
import type { CommandRequest } from '../../src/core/commands/command-registry.ts';
import type { Answer } from '../../src/core/commands/answer.ts';

/** Per test: every test in this file stops well within it. */
const TIMEOUT = 10_000;

// Texts from Kea 2.2 (tag Kea-2.2.0): src/lib/cc/command_interpreter.cc parseCommand,
// src/lib/config/base_command_mgr.cc processCommand ("Error during command processing: " prefix,
// "Command processing failed: NULL command parameter"), src/bin/agent/ca_command_mgr.cc
// handleCommand ("service value must be a list") and forwardCommand (unknown service).

test('a command, with or without service, is run once per service (none: this server)', { timeout: TIMEOUT }, () => {
  assert.deepEqual(parseKeaBody('{"command":"status-get"}'), { kind: 'command', request: { command: 'status-get' }, services: [null] });
  assert.deepEqual(parseKeaBody('{"command":"status-get","service":[]}'), { kind: 'command', request: { command: 'status-get' }, services: [null] });
  const r = parseKeaBody('{"command":"ha-continue","service":["liveset","foo"],"arguments":{"server-name":"a"},"remote-address":"x"}');
  assert.deepEqual(r, { kind: 'command', request: { command: 'ha-continue', arguments: { 'server-name': 'a' } }, services: ['liveset', 'foo'] });
  // arguments of any type go on to the command, which decides (as Kea's handlers do)
  assert.deepEqual(parseKeaBody('{"command":"x","arguments":[1]}'), { kind: 'command', request: { command: 'x', arguments: [1] }, services: [null] });
});

test('malformed JSON is a bare bad request; an empty body and bad envelopes get Kea\'s texts', { timeout: TIMEOUT }, () => {
  assert.equal(parseKeaBody('{"command":').kind, 'bad-request');
  const cases: [string, string][] = [
    ['', 'Command processing failed: NULL command parameter'],
    ['[1]', 'Error during command processing: Invalid command Element specified, expected map'],
    ['null', 'Error during command processing: Invalid command Element specified, expected map'],
    ['{"arguments":{}}', "Error during command processing: Invalid answer specified, does not contain mandatory 'command'"],
    ['{"command":"x","zz":1,"remote":1}', "Error during command processing: Received command contains unsupported parameter 'remote'"],
    ['{"command":5}', "Error during command processing: 'command' element in command message is not a string"],
    ['{"command":"x","service":"liveset"}', 'service value must be a list'],
  ];
  for (const [body, text] of cases) assert.deepEqual(parseKeaBody(body), { kind: 'answer', answer: { result: 1, text } }, body);
});

test('handleKeaText: one answer per service in order, unknown services get the agent\'s forwarding error', { timeout: TIMEOUT }, async () => {
  const ran: CommandRequest[] = [];
  const run = async (r: CommandRequest): Promise<Answer> => (ran.push(r), { result: 0, text: 'ok', arguments: { n: ran.length } });
  const opts = { services: ['liveset'], errorDetail: false, compact: false };
  const reply = await handleKeaText('{"command":"c","service":["liveset","foo","liveset"]}', opts, run);
  assert.equal(reply.status, 200);
  assert.equal(
    reply.body,
    '[ { "arguments": { "n": 1 }, "result": 0, "text": "ok" }, { "result": 1, "text": "forwarding socket is not configured for the server type foo" }, { "arguments": { "n": 2 }, "result": 0, "text": "ok" } ]',
  );
  assert.equal(ran.length, 2);
  assert.deepEqual(await handleKeaText('{"command":', opts, run), { status: 400, body: '{ "result": 400, "text": "Bad Request" }' });
  assert.deepEqual(await handleKeaText('', opts, run), { status: 200, body: '[ { "result": 1, "text": "Command processing failed: NULL command parameter" } ]' });
  // liveset peers get compact JSON with the error detail
  const peer = await handleKeaText('{"command":"c"}', { ...opts, errorDetail: true, compact: true }, async () => ({ result: 1, text: 't', error: 'HOST_OFFLINE', params: ['h'] }));
  assert.equal(peer.body, '[{"result":1,"text":"t","error":"HOST_OFFLINE","params":["h"]}]');
});

test('Kea answers drop the JSON-RPC-only error fields', { timeout: TIMEOUT }, () => {
  assert.deepEqual(toKeaAnswer({ result: 1, text: 'host is not live: h2', error: 'HOST_OFFLINE', params: ['h2'] }), { result: 1, text: 'host is not live: h2' });
});
