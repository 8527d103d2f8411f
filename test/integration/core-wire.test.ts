import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { dirname } from 'node:path';
import { WebSocket } from 'ws';
import { freePorts, keaCommand, rpc, startLiveset, type LivesetProcess } from '../helpers/liveset.ts';

const greeterPath = fileURLToPath(new URL('../../examples/libraries/greeter.mjs', import.meta.url));
const LIMIT = 4096;
let server: LivesetProcess;

before(async () => {
  const [port] = await freePorts(1);
  server = await startLiveset({
    config: {
      server: { listen: `http://127.0.0.1:${port}/`, 'body-limit': LIMIT, 'hooks-directory': dirname(greeterPath) },
      logging: { level: 'warn' },
      'hooks-libraries': [{ library: greeterPath, parameters: { greeting: 'Hello', audit: true } }],
    },
  });
});
after(() => server.stop());

/** Raw HTTP, so tests see exactly what a client gets (status, headers, body). */
function http(path: string, body: string | Buffer, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; type: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, server.url);
    const req = request(url, { method: opts.method ?? 'POST', headers: { 'Content-Type': 'application/json', ...opts.headers } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('kea: a good command, an unknown command, invalid arguments', async () => {
  const status = await keaCommand(server.url, 'status-get');
  assert.equal(status.result, 0);
  assert.equal(typeof status.arguments.pid, 'number');
  assert.deepEqual(status.arguments.libraries, ['greeter']);
  const greet = await keaCommand(server.url, 'greet', { name: 'ana' });
  assert.deepEqual(greet, { result: 0, text: 'Hello, ana!', arguments: { count: 1, audited: true } });
  assert.deepEqual(await keaCommand(server.url, 'nope'), { result: 2, text: "'nope' command not supported." });
  assert.deepEqual(await keaCommand(server.url, 'greet', { name: 5 }), { result: 1, text: 'arguments.name: must be string' });
  const served = await http('/', '{"command":"status-get","service":["liveset"]}');
  assert.equal(JSON.parse(served.body)[0].result, 0);
  const other = JSON.parse((await http('/', '{"command":"status-get","service":["dhcp4"]}')).body);
  assert.deepEqual(other, [{ result: 1, text: 'forwarding socket is not configured for the server type dhcp4' }]);
});

test('kea: malformed JSON, a non-POST and a wrong content type are HTTP 400 Bad Request', async () => {
  for (const r of [
    await http('/', '{"command": "status-get"'),
    await http('/', '', { method: 'GET' }),
    await http('/', '{"command":"status-get"}', { headers: { 'Content-Type': 'text/plain' } }),
  ]) {
    assert.equal(r.status, 400);
    assert.equal(r.type, 'application/json');
    assert.deepEqual(JSON.parse(r.body), { result: 400, text: 'Bad Request' });
  }
});

test('oversized bodies are refused on every transport, and the server keeps serving', async () => {
  const big = JSON.stringify({ command: 'greet', arguments: { name: 'x'.repeat(LIMIT) } });
  const kea = await http('/', big);
  assert.equal(kea.status, 413);
  assert.deepEqual(JSON.parse(kea.body), { result: 413, text: `request body exceeds the limit of ${LIMIT} bytes` });
  const chunked = await http('/', Buffer.from(big), { headers: { 'Transfer-Encoding': 'chunked' } });
  assert.equal(chunked.status, 413);
  const jr = await http('/jsonrpc', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'greet', params: { name: 'x'.repeat(LIMIT) } }));
  assert.equal(jr.status, 413);
  assert.equal(JSON.parse(jr.body).error.code, -32600);
  const ws = await openWs();
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'greet', params: { name: 'x'.repeat(LIMIT) } }));
  assert.equal(await closed, 1009, 'message too big');
  assert.equal((await keaCommand(server.url, 'list-commands')).result, 0);
});

test('jsonrpc over HTTP: good, unknown, invalid, malformed, domain error; Content-Type exactly application/json', async () => {
  const good = await http('/jsonrpc', JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'greet', params: { name: 'bo' } }));
  assert.equal(good.status, 200);
  assert.equal(good.type, 'application/json');
  assert.deepEqual(JSON.parse(good.body), { jsonrpc: '2.0', id: 7, result: { count: 1, audited: true } });
  assert.deepEqual((await rpc(server.url, 'version-get')).result.extended.split(' ')[0], 'liveset');
  assert.equal((await rpc(server.url, 'nope')).error.code, -32601);
  const invalid = await rpc(server.url, 'greet', { name: '' });
  assert.deepEqual(invalid.error, { code: -32602, message: 'Invalid params', data: ['arguments.name: must NOT have fewer than 1 characters'] });
  const domain = await rpc(server.url, 'fault-heal', {});
  assert.equal(domain.error.code, 1);
  assert.equal(domain.error.message, 'FAULT_INJECTION_DISABLED');
  const malformed = await http('/jsonrpc', '{"jsonrpc":');
  assert.equal(JSON.parse(malformed.body).error.code, -32700);
});

test('jsonrpc: a batch gets an array back; notifications get nothing', async () => {
  const batch = await http('/jsonrpc', JSON.stringify([
    { jsonrpc: '2.0', id: 1, method: 'greet', params: { name: 'cy' } },
    { jsonrpc: '2.0', method: 'greet', params: { name: 'cy' } },
    { jsonrpc: '2.0', id: 2, method: 'nope' },
  ]));
  const replies = JSON.parse(batch.body);
  assert.deepEqual(replies.map((r: { id: number }) => r.id), [1, 2]);
  assert.equal(replies[1].error.code, -32601);
  const note = await http('/jsonrpc', JSON.stringify({ jsonrpc: '2.0', method: 'greet', params: { name: 'cy' } }));
  assert.equal(note.status, 204);
  assert.equal(note.body, '');
  // The notification and the batch's notification both ran: cy was greeted three times before this.
  assert.equal((await rpc(server.url, 'greet', { name: 'cy' })).result.count, 4);
});

function openWs(): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(new URL('/ws', server.url.replace('http', 'ws')));
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function wsExchange(ws: WebSocket) {
  const inbox: any[] = [];
  const waiters: (() => void)[] = [];
  ws.on('message', (d: Buffer) => {
    inbox.push(JSON.parse(d.toString()));
    waiters.splice(0).forEach((w) => w());
  });
  return async (pred: (m: any) => boolean): Promise<any> => {
    for (;;) {
      const i = inbox.findIndex(pred);
      if (i >= 0) return inbox.splice(i, 1)[0];
      await new Promise<void>((r) => waiters.push(r));
    }
  };
}

test('jsonrpc over WebSocket: good, unknown, invalid, malformed, and an event subscription', async () => {
  const ws = await openWs();
  const next = wsExchange(ws);
  try {
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscribe', params: { events: ['greeter-*'] } }));
    assert.deepEqual((await next((m) => m.id === 1)).result, { events: ['greeter-*'] });
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'greet', params: { name: 'di' } }));
    assert.equal((await next((m) => m.id === 2)).result.count, 1);
    const event = await next((m) => m.method === 'greeter-greeted');
    assert.deepEqual(event, { jsonrpc: '2.0', method: 'greeter-greeted', params: { name: 'di', count: 1 } });
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'nope' }));
    assert.equal((await next((m) => m.id === 3)).error.code, -32601);
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'greet', params: {} }));
    assert.deepEqual((await next((m) => m.id === 4)).error.data, ['arguments.name: is required']);
    ws.send('{"jsonrpc": "2.0", "id": 5, ');
    assert.equal((await next((m) => m.id === null)).error.code, -32700);
    ws.send(JSON.stringify([{ jsonrpc: '2.0', id: 6, method: 'unsubscribe' }]));
    assert.deepEqual((await next((m) => Array.isArray(m)))[0].result, { events: [] });
  } finally {
    ws.close();
  }
  const viaHttp = await rpc(server.url, 'subscribe', { events: ['*'] });
  assert.equal(viaHttp.error.message, 'SUBSCRIPTION_NEEDS_WEBSOCKET');
});
