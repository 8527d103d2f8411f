import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import { pino } from 'pino';
import { peerCaller } from '../../src/core/peer-client.ts';
import { PeerRejectedError, PeerUnreachableError } from '../../src/core/hooks/hook-library.ts';

/** A peer on 127.0.0.1 whose answers the test decides; returns its URL. */
async function fakePeer(t: { after(fn: () => unknown): void }, answer: (res: ServerResponse) => void): Promise<string> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => answer(res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => {
    server.closeAllConnections();
    server.close(resolve);
  }));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
}

function capture() {
  const lines: Record<string, unknown>[] = [];
  return { lines, logger: pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) }) };
}

test('a peer answering 401/403 is a PeerRejectedError, logged at warn once per peer until it accepts again', async (t) => {
  let status = 401;
  const url = await fakePeer(t, (res) => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(status === 200 ? '[{"result":0,"text":"fine"}]' : '{"result":401,"text":"Unauthorized"}');
  });
  const { lines, logger } = capture();
  const call = peerCaller('host1', undefined, logger, new AbortController().signal);
  const peer = { name: 'host2', url, auth: { user: 'pool', password: 'wrong' } };
  for (let i = 0; i < 3; i++) {
    await assert.rejects(call(peer, 'host.tickle_heartbeat', {}, 2000), (e: unknown) => e instanceof PeerRejectedError && e.status === 401 && e.peer === 'host2');
  }
  const rejected = () => lines.filter((l) => l['msgId'] === 'CORE_PEER_REJECTED');
  assert.equal(rejected().length, 1, 'once, not per call');
  assert.equal(rejected()[0]?.['level'], 40, 'at warn');
  assert.equal(rejected()[0]?.['peer'], 'host2');
  status = 200;
  assert.equal((await call(peer, 'host.tickle_heartbeat', {}, 2000)).text, 'fine');
  status = 403;
  await assert.rejects(call(peer, 'host.tickle_heartbeat', {}, 2000), PeerRejectedError);
  assert.deepEqual(rejected().map((l) => l['status']), [401, 403], 'a new rejection after an accepted call is logged again');
});

test("aborting the library's signal ends a call in flight at once", async (t) => {
  const url = await fakePeer(t, () => undefined); // never answers
  const unloaded = new AbortController();
  const call = peerCaller('host1', undefined, capture().logger, unloaded.signal);
  const pending = call({ name: 'host2', url }, 'ha-heartbeat', {}, 60_000);
  setTimeout(() => unloaded.abort(), 50);
  const started = Date.now();
  await assert.rejects(pending, (e: unknown) => e instanceof PeerUnreachableError && /unloaded/.test(e.reason));
  assert.ok(Date.now() - started < 30_000, 'not left to its 60 s timeout');
  await assert.rejects(call({ name: 'host2', url }, 'ha-heartbeat', {}, 1000), /unloaded/, 'no new calls after unload');
});

test('a peer that does not answer in time, and one that refuses the connection, are reported with the reason', { timeout: 30_000 }, async (t) => {
  const call = peerCaller('host1', undefined, capture().logger, new AbortController().signal);
  const silent = await fakePeer(t, () => undefined);
  await assert.rejects(call({ name: 'host2', url: silent }, 'ha-heartbeat', {}, 200), (e: unknown) => e instanceof PeerUnreachableError && e.reason === 'no answer within 200 ms');
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as { port: number }).port;
  await new Promise((resolve) => closed.close(resolve));
  await assert.rejects(call({ name: 'host2', url: `http://127.0.0.1:${port}/` }, 'ha-heartbeat', {}, 2000), (e: unknown) => e instanceof PeerUnreachableError && e.reason === 'ECONNREFUSED');
});

test('a call whose kept-alive connection the peer drops (closed while idle) is sent again on a new connection', { timeout: 30_000 }, async (t) => {
  // The second request on any connection is dropped without an answer, as when the peer closes an
  // idle connection just as it is reused.
  const requestsOn = new WeakMap<object, number>();
  let handled = 0;
  const server = createServer((req, res) => {
    const n = (requestsOn.get(req.socket) ?? 0) + 1;
    requestsOn.set(req.socket, n);
    req.resume();
    req.on('end', () => {
      handled++;
      if (n === 2) req.socket.destroy();
      else res.writeHead(200, { 'Content-Type': 'application/json' }).end('[{"result":0,"text":"fine"}]');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => {
    server.closeAllConnections();
    server.close(resolve);
  }));
  const peer = { name: 'host2', url: `http://127.0.0.1:${(server.address() as { port: number }).port}/` };
  const call = peerCaller('host1', undefined, capture().logger, new AbortController().signal);
  assert.equal((await call(peer, 'ha-heartbeat', {}, 2000)).text, 'fine');
  assert.equal((await call(peer, 'ha-heartbeat', {}, 2000)).text, 'fine', 'answered on a new connection');
  assert.equal(handled, 3, 'the dropped request was sent once more, not more');
});
