// Every resource one client can make the server hold is bounded (issue 10): connections, JSON-RPC
// batch length, requests in flight per connection, a slow WebSocket reader's queue, half-open
// WebSockets (pings), subscriptions per connection and XenAPI sessions per user. Each limit is hit
// on a real process and its refusal checked: an error naming the limit, or the close code and log.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { freePorts, keaCommand, rpc, startLiveset, waitFor, type LivesetProcess } from '../helpers/liveset.ts';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
// Pings are slow at first (the slow-reader test pauses a socket, which must not count as dead);
// the ping test reloads the configuration with a short interval.
const LIMITS = { connections: 12, 'batch-length': 5, 'requests-in-flight': 2, 'ws-send-buffer': 65536, 'ws-ping-interval': 60_000, subscriptions: 3 };
const IDLE_MS = 3000;

let server: LivesetProcess;
let dir: string;

before(async () => {
  const [port] = await freePorts(1);
  dir = mkdtempSync(join(tmpdir(), 'liveset-limits-'));
  const url = `http://127.0.0.1:${port}/`;
  server = await startLiveset({
    config: {
      server: { 'data-dir': join(dir, '${server}'), 'hooks-directory': FIXTURES, limits: LIMITS },
      logging: { level: 'info', format: 'json' },
      'hooks-libraries': [
        { library: join(FIXTURES, 'flood-library.mjs') },
        { library: join(FIXTURES, 'slow-library.mjs') },
        {
          library: 'pool',
          parameters: {
            name: 'limits', master: 'host1', hosts: [{ name: 'host1', url }], 'pool-secret': 'limits-test-pool-secret',
            credentials: [{ user: 'root', password: 'xen' }], sessions: { 'max-per-user': 2, 'idle-timeout': IDLE_MS },
          },
        },
      ],
    },
    server: 'host1',
  });
});

after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function openWs(opts: { autoPong?: boolean } = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(new URL('/ws', server.url.replace('http', 'ws')), opts);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** Collects a WebSocket's messages; `next(pred)` resolves with the first matching one. */
function inbox(ws: WebSocket) {
  const got: any[] = [];
  const waiters: (() => void)[] = [];
  ws.on('message', (d: Buffer) => {
    got.push(JSON.parse(d.toString()));
    waiters.splice(0).forEach((w) => w());
  });
  return async (pred: (m: any) => boolean, timeoutMs = 20_000): Promise<any> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = got.findIndex(pred);
      if (i >= 0) return got.splice(i, 1)[0];
      if (Date.now() > deadline) throw new Error('no matching WebSocket message in time');
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 200).unref();
      });
    }
  };
}

const closed = (ws: WebSocket) => new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
const logLines = (msgId: string) => server.logs().split('\n').filter((l) => l.includes(`"msgId":"${msgId}"`)).map((l) => JSON.parse(l) as Record<string, unknown>);

test('a JSON-RPC batch over server.limits.batch-length runs none of its calls and names the limit', { timeout: 60_000 }, async () => {
  const call = (id: number) => ({ jsonrpc: '2.0', id, method: 'version-get' });
  const post = async (batch: unknown[]) => {
    const res = await fetch(new URL('/jsonrpc', server.url), { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(batch) });
    return res.json() as Promise<any>;
  };
  const within = await post([1, 2, 3, 4, 5].map(call));
  assert.equal(within.length, 5);
  assert.ok(within.every((r: any) => typeof r.result === 'object'));
  const over = await post([1, 2, 3, 4, 5, 6].map(call));
  assert.equal(over.error.code, -32600);
  assert.equal(over.id, null);
  assert.match(over.error.data, /a batch of 6 calls exceeds server\.limits\.batch-length \(5\)/);

  const ws = await openWs();
  const next = inbox(ws);
  try {
    ws.send(JSON.stringify([1, 2, 3, 4, 5, 6].map(call)));
    const refused = await next((m) => m.error !== undefined);
    assert.match(refused.error.data, /server\.limits\.batch-length \(5\)/);
  } finally {
    ws.close();
  }
});

test('a WebSocket with server.limits.requests-in-flight unanswered gets LIMIT_EXCEEDED for one more, then is served again', { timeout: 60_000 }, async () => {
  const ws = await openWs();
  const next = inbox(ws);
  try {
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'slow', params: { ms: 1500 } }));
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'slow', params: { ms: 1500 } }));
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'version-get' }));
    const refused = await next((m) => m.id === 3);
    assert.equal(refused.error.message, 'LIMIT_EXCEEDED');
    assert.deepEqual(refused.error.data.slice(0, 2), ['server.limits.requests-in-flight', '2']);
    assert.equal((await next((m) => m.id === 1)).result, 'slept 1500 ms');
    assert.equal((await next((m) => m.id === 2)).result, 'slept 1500 ms');
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'version-get' }));
    assert.equal(typeof (await next((m) => m.id === 4)).result, 'object', 'with the slow calls answered the connection is served again');
  } finally {
    ws.close();
  }
  await waitFor(() => logLines('CORE_LIMIT_REFUSED').some((l) => l['limit'] === 'server.limits.requests-in-flight'), { what: 'the refusal logged' });
});

test('subscribing one connection to more than server.limits.subscriptions patterns is refused whole', { timeout: 60_000 }, async () => {
  const ws = await openWs();
  const next = inbox(ws);
  try {
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscribe', params: { events: ['a', 'b', 'c'] } }));
    assert.deepEqual((await next((m) => m.id === 1)).result, { events: ['a', 'b', 'c'] });
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'subscribe', params: { events: ['a', 'd'] } }));
    const refused = await next((m) => m.id === 2);
    assert.equal(refused.error.message, 'LIMIT_EXCEEDED');
    assert.deepEqual(refused.error.data, ['server.limits.subscriptions', '3', 'this connection would be subscribed to 4 event patterns']);
    // Patterns it already holds may be given again; nothing was added by the refused call.
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'subscribe', params: { events: ['c'] } }));
    assert.deepEqual((await next((m) => m.id === 3)).result, { events: ['a', 'b', 'c'] });
  } finally {
    ws.close();
  }
});

test('a WebSocket reader that stops reading is closed with 1013 and logged; one that keeps up gets every event', { timeout: 120_000 }, async () => {
  // The slow reader's socket is paused: nothing it is sent is read, so once the kernel's buffers are
  // full (a few MB on loopback) the server's queue for it grows. The flood (1500 events of 16 KiB,
  // each in its own turn of the server's event loop) is far more than the kernel holds, so the
  // 64 KiB limit is crossed during the flood whatever the machine's load; nothing here waits on time.
  const slow = await openWs();
  const fast = await openWs();
  const slowNext = inbox(slow);
  const fastNext = inbox(fast);
  const slowClosed = closed(slow);
  try {
    slow.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscribe', params: { events: ['flood-event'] } }));
    await slowNext((m) => m.id === 1);
    (slow as unknown as { _socket: Socket })._socket.pause();

    const COUNT = 1500;
    const answer = await keaCommand(server.url, 'flood', { count: COUNT, size: 16384 }, { timeoutMs: 60_000 });
    assert.equal(answer.result, 0);
    const [line] = await waitFor(() => logLines('CORE_WS_SLOW_READER'), { what: 'CORE_WS_SLOW_READER logged', timeoutMs: 30_000 });
    assert.equal(line?.['limit'], 65536);
    assert.ok((line?.['buffered'] as number) > 65536);

    // Once it reads again it finds what was queued before the limit, then the server's close frame.
    (slow as unknown as { _socket: Socket })._socket.resume();
    const { code, reason } = await slowClosed;
    assert.equal(code, 1013);
    assert.match(reason, /server\.limits\.ws-send-buffer/);

    // A reader that keeps up is never closed. Its flood (200 events of 1 KiB) fits in the kernel's
    // loopback buffers whole, so even a test process descheduled for seconds by a busy machine
    // cannot push the server's own queue past the limit: the check does not depend on timing.
    fast.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscribe', params: { events: ['flood-event'] } }));
    await fastNext((m) => m.id === 1);
    let fastEvents = 0;
    fast.on('message', (d: Buffer) => {
      if (d.includes('"flood-event"')) fastEvents++;
    });
    const FAST_COUNT = 200;
    assert.equal((await keaCommand(server.url, 'flood', { count: FAST_COUNT, size: 1024 }, { timeoutMs: 60_000 })).result, 0);
    await waitFor(() => fastEvents === FAST_COUNT, { what: `the reader that keeps up to get all ${FAST_COUNT} events (has ${fastEvents})`, timeoutMs: 30_000 });
    assert.equal(fast.readyState, WebSocket.OPEN, 'the reader that kept up stays connected');
  } finally {
    slow.terminate();
    fast.close();
  }
});

test('a WebSocket that answers no ping is closed and loses its subscriptions', { timeout: 60_000 }, async () => {
  const subscribed = async () => {
    const text = await (await fetch(new URL('/metrics', server.url))).text();
    return Number(/^liveset_event_subscriptions (\d+)/m.exec(text)?.[1]);
  };
  await waitFor(async () => (await subscribed()) === 0, { what: 'earlier tests\' subscriptions gone' });
  // Limits change with config-reload; the ping interval holds for WebSockets opened afterwards.
  const config = JSON.parse(readFileSync(server.configFile, 'utf8'));
  config.server.limits['ws-ping-interval'] = 300;
  writeFileSync(server.configFile, JSON.stringify(config));
  assert.equal((await keaCommand(server.url, 'config-reload')).result, 0);
  const ws = await openWs({ autoPong: false });
  const next = inbox(ws);
  const gone = closed(ws);
  ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscribe', params: { events: ['*'] } }));
  await next((m) => m.id === 1);
  assert.equal(await subscribed(), 1);
  // The ws client answers nothing (autoPong off): after one ping interval unanswered, the server
  // terminates the connection (1006 here: no close frame) and drops the subscription.
  const { code } = await gone;
  assert.equal(code, 1006);
  await waitFor(() => logLines('CORE_WS_PING_TIMEOUT').length > 0, { what: 'CORE_WS_PING_TIMEOUT logged' });
  await waitFor(async () => (await subscribed()) === 0, { what: 'the subscription dropped with the connection' });
});

test('a connection beyond server.limits.connections gets HTTP 503 naming the limit; a freed slot serves again', { timeout: 60_000 }, async () => {
  const port = Number(new URL(server.url).port);
  const held: Socket[] = [];
  /** Opens a connection and sends one keep-alive request; resolves with the status line and body. */
  const ask = (): Promise<{ socket: Socket; status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let data = '';
      socket.on('data', (d: Buffer) => {
        data += d.toString();
        const head = data.indexOf('\r\n\r\n');
        const length = Number(/content-length: (\d+)/i.exec(data)?.[1]);
        if (head >= 0 && data.length >= head + 4 + length) {
          socket.removeAllListeners('data');
          resolve({ socket, status: Number(data.slice(9, 12)), body: data.slice(head + 4) });
        }
      });
      socket.once('error', reject);
      const body = '{"command":"version-get"}';
      socket.write(`POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    });
  try {
    let refused: { status: number; body: string } | undefined;
    // Other connections (this process's fetch pool) may hold slots too: at most LIMITS.connections + 1 tries.
    for (let i = 0; i <= LIMITS.connections && refused === undefined; i++) {
      const r = await ask();
      held.push(r.socket);
      if (r.status !== 200) refused = r;
    }
    assert.ok(refused, 'a connection was refused within the limit + 1');
    assert.equal(refused.status, 503);
    assert.deepEqual(JSON.parse(refused.body), { result: 503, text: `too many connections: server.limits.connections is ${LIMITS.connections}` });
    await waitFor(() => logLines('CORE_LIMIT_REFUSED').some((l) => l['limit'] === 'server.limits.connections'), { what: 'the refused connection logged' });
    for (const s of held.splice(0)) s.destroy();
    await waitFor(async () => {
      const r = await ask();
      r.socket.destroy();
      return r.status === 200;
    }, { what: 'a connection served once the held ones closed' });
  } finally {
    for (const s of held) s.destroy();
  }
});

test('XenAPI sessions: a user past sessions.max-per-user loses its least recently used one; an idle one expires', { timeout: 60_000 }, async () => {
  const rpcUrl = server.url;
  const login = async () => (await rpc(rpcUrl, 'session.login_with_password', ['root', 'xen'])).result as string;
  const use = (session: string) => rpc(rpcUrl, 'pool.get_all', [session]);
  const s1 = await login();
  const s2 = await login();
  assert.ok(Array.isArray((await use(s1)).result), 's1 works (and is now used more recently than s2)');
  const s3 = await login(); // the third for root: s2, least recently used, is ended
  const ended = await use(s2);
  assert.deepEqual(ended.error, { code: 1, message: 'SESSION_INVALID', data: [s2] });
  assert.ok(Array.isArray((await use(s1)).result));
  assert.ok(Array.isArray((await use(s3)).result));
  const evicted = logLines('POOL_SESSION_EVICTED');
  assert.deepEqual(evicted.map((l) => [l['session'], l['limit'], l['value']]), [[s2, 'sessions.max-per-user', 2]]);

  await new Promise((r) => setTimeout(r, IDLE_MS + 500));
  assert.deepEqual((await use(s3)).error, { code: 1, message: 'SESSION_INVALID', data: [s3] }, 'unused for longer than sessions.idle-timeout');
});
