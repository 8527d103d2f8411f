import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseKeaBody } from '../../src/transports/kea-http/kea-codec.ts';
import { toKeaAnswer } from '../../src/transports/answer-mapping.ts';

const services = ['liveset'];

test('a command with or without a served service is accepted', () => {
  assert.deepEqual(parseKeaBody('{"command":"status-get"}', services), { kind: 'command', request: { command: 'status-get', arguments: undefined } });
  const r = parseKeaBody('{"command":"ha-continue","service":["liveset"],"arguments":{"server-name":"a"}}', services);
  assert.deepEqual(r, { kind: 'command', request: { command: 'ha-continue', arguments: { 'server-name': 'a' } } });
});

test('malformed JSON is a bare bad request; a bad envelope is refused with the reason', () => {
  assert.equal(parseKeaBody('{"command":', services).kind, 'bad-request');
  const cases: [string, RegExp][] = [
    ['[1]', /must be a JSON object/],
    ['{"arguments":{}}', /'command' must be a non-empty string/],
    ['{"command":"x","service":"liveset"}', /'service' must be a list/],
    ['{"command":"x","service":["dhcp4"]}', /service 'dhcp4' is not served here \(this server serves: liveset\)/],
    ['{"command":"x","arguments":[1]}', /'arguments' must be a JSON object/],
    ['{"command":"x","remote":1}', /unsupported parameter 'remote'/],
  ];
  for (const [body, text] of cases) {
    const r = parseKeaBody(body, services);
    assert.equal(r.kind, 'refused', body);
    assert.match((r as { text: string }).text, text);
  }
});

test('Kea answers drop the JSON-RPC-only error fields', () => {
  assert.deepEqual(toKeaAnswer({ result: 1, text: 'host is not live: h2', error: 'HOST_OFFLINE', params: ['h2'] }), { result: 1, text: 'host is not live: h2' });
});
