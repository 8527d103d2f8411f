import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { WebSocketServer, WebSocket } from 'ws';
import type { Answer } from '../core/commands/answer.ts';
import type { CommandRequest } from '../core/commands/command-registry.ts';
import type { CallerAuth, CommandContext, EventSink } from '../core/commands/command.ts';
import type { EventBus } from '../core/events.ts';
import type { Logger } from '../core/logger.ts';
import type { ServerLimits } from '../core/config/config-types.ts';
import { errorAnswer } from '../core/commands/error-answer.ts';
import { CommandError } from '../core/errors.ts';
import type { BasicAuth } from './basic-auth.ts';
import { readBody } from './http-body.ts';
import { KEA_BAD_REQUEST, handleKeaText, keaBody } from './kea-http/kea-codec.ts';
import { handleJsonRpcText } from './jsonrpc/jsonrpc-codec.ts';

// node:https (and with it tls) only for a server that listens with TLS, node:crypto only for a
// WebSocket: a plain server does not load or initialise them (about 1 MiB of RSS).
const https = () => process.getBuiltinModule('node:https');

export type Dispatch = (request: CommandRequest, ctx: Omit<CommandContext, 'logger'>) => Promise<Answer>;

/** Settings the transport reads on every request; swapped atomically on config reload. */
export interface TransportSettings {
  readonly bodyLimit: number;
  /** server.limits: connections, batch length, requests in flight, WebSocket buffer, pings, subscriptions. */
  readonly limits: ServerLimits;
  readonly services: readonly string[];
  readonly http: boolean;
  readonly websocket: boolean;
  readonly auth?: BasicAuth;
  /** True when fault injection drops requests coming from `peer`. */
  readonly dropFrom?: (peer: string) => boolean;
  /** The operator's pages: GET /ui (status page) and GET /metrics (Prometheus). */
  readonly ui: boolean;
  readonly metrics: boolean;
  /** Lets a scraper on 127.0.0.1/::1 read /metrics without credentials. */
  readonly metricsOpenOnLoopback: boolean;
  /** Told of every refused credential (logged, at most once per address and user a minute). */
  readonly onRefused?: (remoteAddress: string | undefined, user: string | undefined) => void;
}

/** Routes outside the control channels (src/operator): the status page and /metrics. */
export interface ExtraRoutes {
  handles(path: string): boolean;
  /** Called only once authentication has passed (or was waived for a loopback scrape). */
  serve(req: IncomingMessage, res: ServerResponse, path: string, user: string | undefined): Promise<void>;
}

export interface ControlServerOptions {
  readonly host: string;
  readonly port: number;
  readonly settings: () => TransportSettings;
  /** WebSocket message limit; fixed for the life of the listener. */
  readonly maxPayload: number;
  readonly dispatch: Dispatch;
  readonly events: EventBus;
  readonly logger: Logger;
  readonly extraRoutes?: ExtraRoutes;
  /** Listen with TLS (server.tls): key material, and whether client certificates are demanded. */
  readonly tls?: { readonly ca: Buffer; readonly cert: Buffer; readonly key: Buffer; readonly certRequired: boolean };
}

/** Real xapi sends exactly this; a `; charset` suffix makes the xen-api client fall back to XML-RPC. */
const JSON_TYPE = 'application/json';
/** Header a liveset server puts on its calls to peers: names the caller for fault injection and asks for error detail. */
export const PEER_HEADER = 'x-liveset-server';
/** A Kea-channel caller that wants error names and params on failures (liveset peers always get them). */
export const ERROR_DETAIL_HEADER = 'x-liveset-error-detail';

/**
 * One node:http server carrying the three wire formats: Kea's control channel on POST /, JSON-RPC
 * on POST /jsonrpc, and JSON-RPC over a WebSocket at /ws. The codecs are pure; this file only moves
 * bytes, enforces limits and authentication, and tracks in-flight work for a graceful stop.
 */
export class ControlServer {
  private readonly server: Server;
  /**
   * Created on the first upgrade: loading `ws` (with zlib and TLS, which it requires) costs an
   * idle server about 15 MB, and many never see a WebSocket client.
   */
  private wss: Promise<WebSocketServer> | undefined;
  private wsClients = new Set<WebSocket>();
  private inFlight = 0;
  private drained: (() => void) | undefined;
  /** Open connections (server.limits.connections); those over the limit were answered 503 and ended. */
  private connections = 0;
  private readonly overLimit = new WeakSet<object>();
  /** Requests unanswered per connection (an HTTP socket or a WebSocket): server.limits.requests-in-flight. */
  private readonly pending = new WeakMap<object, number>();
  /** When each limit's refusal was last logged: a flood of refusals logs once per limit every 10 s. */
  private readonly limitLogged = new Map<string, number>();

  constructor(private readonly opts: ControlServerOptions) {
    const onRequest = (req: IncomingMessage, res: ServerResponse) => this.track(this.onRequest(req, res));
    const tls = opts.tls;
    // node's own TLS (as Kea's control agent: trust-anchor, cert-file, key-file, cert-required).
    // With cert-required a client without a certificate chaining to the trust anchor fails the
    // handshake: it never reaches a route, and the refusal is logged (CORE_TLS_REFUSED).
    this.server = tls
      ? https().createServer({ keepAliveTimeout: 65_000, ca: tls.ca, cert: tls.cert, key: tls.key, requestCert: tls.certRequired, rejectUnauthorized: tls.certRequired }, onRequest)
      : createServer({ keepAliveTimeout: 65_000 }, onRequest);
    if (tls) {
      this.server.on('tlsClientError', (err: Error & { code?: string }, socket: Socket) => this.tlsRefused(err, socket.remoteAddress));
    }
    this.server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
    // Over TLS the limit's 503 can only be written once the handshake is done.
    this.server.on(tls ? 'secureConnection' : 'connection', (socket: Socket) => this.onConnection(socket));
    this.server.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const addr = this.server.address();
    return typeof addr === 'object' && addr ? addr.port : this.opts.port;
  }

  /** Stops accepting, lets in-flight commands finish (up to graceMs), then closes everything. */
  async close(graceMs: number): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    for (const ws of this.wsClients) ws.close(1001, 'server shutting down');
    if (this.inFlight > 0) {
      await Promise.race([
        new Promise<void>((resolve) => (this.drained = resolve)),
        new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref()),
      ]);
    }
    this.server.closeAllConnections();
    for (const ws of this.wsClients) ws.terminate();
    (await this.wss)?.close();
    await closed;
  }

  /** Open WebSocket connections (for /metrics). */
  get webSocketCount(): number {
    return this.wsClients.size;
  }

  /** Counts the connection; one over server.limits.connections gets a 503 naming the limit and is closed. */
  private onConnection(socket: Socket): void {
    this.connections++;
    socket.once('close', () => this.connections--);
    const limit = this.opts.settings().limits.connections;
    if (this.connections <= limit) return;
    this.overLimit.add(socket);
    const text = JSON.stringify({ result: 503, text: `too many connections: server.limits.connections is ${limit}` });
    socket.end(`HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: ${JSON_TYPE}\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
    this.limitHit('connections', limit, socket.remoteAddress);
  }

  /** A TLS handshake that failed (no client certificate, one from another CA, a client that does not trust us). */
  private tlsRefused(err: Error & { code?: string }, remoteAddress: string | undefined): void {
    const key = `tls ${remoteAddress ?? '?'} ${err.code ?? err.message}`;
    const now = performance.now();
    const last = this.limitLogged.get(key);
    if (last !== undefined && now - last < 10_000) return;
    if (this.limitLogged.size > 1000) this.limitLogged.clear();
    this.limitLogged.set(key, now);
    this.opts.logger.warn(
      { msgId: 'CORE_TLS_REFUSED', remoteAddress, reason: err.code ?? err.message },
      `refused a TLS connection from ${remoteAddress ?? 'unknown'}: ${err.message}`,
    );
  }

  /** Logs a limit's refusal at warn, at most once per limit every 10 s (a flood must not flood the log). */
  private limitHit(limit: keyof ServerLimits, value: number, remoteAddress: string | undefined): void {
    const now = performance.now();
    const last = this.limitLogged.get(limit);
    if (last !== undefined && now - last < 10_000) return;
    this.limitLogged.set(limit, now);
    this.opts.logger.warn({ msgId: 'CORE_LIMIT_REFUSED', limit: `server.limits.${limit}`, value, remoteAddress }, `refused a request from ${remoteAddress ?? 'unknown'}: server.limits.${limit} (${value}) reached`);
  }

  /**
   * Runs `work` as one of `conn`'s requests in flight, or, with server.limits.requests-in-flight
   * reached, runs `refuse` with a dispatch that answers LIMIT_EXCEEDED without running anything
   * (so each wire format still answers every call with its own id or shape).
   */
  private async admitted<T>(conn: object, remoteAddress: string | undefined, work: (dispatch: Dispatch) => Promise<T>): Promise<T> {
    const limit = this.opts.settings().limits['requests-in-flight'];
    const n = this.pending.get(conn) ?? 0;
    if (n >= limit) {
      this.limitHit('requests-in-flight', limit, remoteAddress);
      const answer = errorAnswer(new CommandError('LIMIT_EXCEEDED', ['server.limits.requests-in-flight', String(limit), `this connection already has ${limit} requests in flight`]));
      return work(() => Promise.resolve(answer));
    }
    this.pending.set(conn, n + 1);
    try {
      return await work(this.opts.dispatch);
    } finally {
      this.pending.set(conn, (this.pending.get(conn) ?? 1) - 1);
    }
  }

  private track(work: Promise<void>): void {
    this.inFlight++;
    work
      .catch((err: unknown) => this.opts.logger.error({ msgId: 'CORE_TRANSPORT_ERROR', err }, 'request handling failed'))
      .finally(() => {
        this.inFlight--;
        if (this.inFlight === 0) this.drained?.();
      });
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.overLimit.has(req.socket)) return; // already answered 503 and ended
    const settings = this.opts.settings();
    const peer = header(req, PEER_HEADER);
    if (peer && settings.dropFrom?.(peer)) {
      req.socket.destroy();
      return;
    }
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const kea = path === '/';
    const extra = this.opts.extraRoutes?.handles(path) === true && (path === '/metrics' ? settings.metrics : settings.ui);
    if (!extra && (!settings.http || (!kea && path !== '/jsonrpc'))) {
      return send(res, 404, { result: 404, text: `Not Found: no control channel at ${path}` });
    }
    const waived = extra && path === '/metrics' && settings.metricsOpenOnLoopback && isLoopback(req.socket.remoteAddress);
    const auth = waived ? { ok: true as const, user: undefined, caller: OPEN } : authenticate(settings, req);
    if (!auth.ok) {
      res.setHeader('WWW-Authenticate', auth.challenge);
      return kea ? sendText(res, 401, keaBody({ result: 401, text: 'Unauthorized' })) : send(res, 401, { result: 401, text: 'Unauthorized' });
    }
    const user = auth.user;
    if (extra) return this.opts.extraRoutes?.serve(req, res, path, user);
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (kea && (req.method !== 'POST' || contentType !== JSON_TYPE)) return sendText(res, 400, keaBody(KEA_BAD_REQUEST));
    if (!kea && req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      return send(res, 405, rpcError(-32600, 'Invalid Request', 'JSON-RPC requests must be sent with POST'));
    }
    if (!kea && contentType !== JSON_TYPE && contentType !== 'application/json-rpc') {
      return send(res, 415, rpcError(-32700, 'Parse error', `Content-Type must be ${JSON_TYPE}`));
    }
    const body = await readBody(req, settings.bodyLimit);
    if (!body.ok) {
      if (body.reason === 'aborted') return;
      const text = `request body exceeds the limit of ${settings.bodyLimit} bytes`;
      res.setHeader('Connection', 'close');
      res.on('finish', () => req.socket.destroy());
      return kea ? sendText(res, 413, keaBody({ result: 413, text })) : send(res, 413, rpcError(-32600, 'Invalid Request', text));
    }
    const base = { remoteAddress: req.socket.remoteAddress, caller: auth.caller, ...(user ? { user } : {}) };
    if (kea) {
      const opts = { services: settings.services, errorDetail: peer !== undefined || header(req, ERROR_DETAIL_HEADER) === '1', compact: peer !== undefined };
      const reply = await this.admitted(req.socket, req.socket.remoteAddress, (dispatch) =>
        handleKeaText(body.text, opts, (request) => dispatch(request, { ...base, transport: 'kea-http', positional: false })),
      );
      return sendText(res, reply.status, reply.body);
    }
    const maxBatch = settings.limits['batch-length'];
    const reply = await this.admitted(req.socket, req.socket.remoteAddress, (dispatch) =>
      handleJsonRpcText(body.text, (request, positional) => dispatch(request, { ...base, transport: 'jsonrpc-http', positional }), { maxBatch }),
    );
    if (reply === undefined) {
      res.writeHead(204).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': JSON_TYPE, 'Content-Length': Buffer.byteLength(reply) }).end(reply);
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.overLimit.has(socket)) return; // already answered 503 and ended
    const settings = this.opts.settings();
    const path = (req.url ?? '/').split('?')[0];
    const refuse = (status: string) => {
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (!settings.websocket || path !== '/ws') return refuse('404 Not Found');
    const auth = authenticate(settings, req);
    if (!auth.ok) return refuse(`401 Unauthorized\r\nWWW-Authenticate: ${auth.challenge}`);
    this.wss ??= import('ws').then(({ WebSocketServer }) => new WebSocketServer({ noServer: true, maxPayload: this.opts.maxPayload }));
    void this.wss.then(
      (wss) => wss.handleUpgrade(req, socket, head, (ws) => this.onWebSocket(ws, socket, req, auth.user, auth.caller)),
      (err: unknown) => {
        this.opts.logger.error({ msgId: 'CORE_TRANSPORT_ERROR', err }, 'cannot load the WebSocket server');
        refuse('500 Internal Server Error');
      },
    );
  }

  private onWebSocket(ws: WebSocket, socket: Duplex, req: IncomingMessage, user: string | undefined, caller: CallerAuth): void {
    // Replies finished in the same turn of the event loop (a client with many calls in flight sends
    // them in one TCP segment) leave in one write: the socket is corked at the first and uncorked
    // once the turn's promise jobs are done. Sent one by one, each reply was its own writev system
    // call, the largest cost in the WebSocket profile.
    let corked = false;
    const reply = (text: string) => {
      if (ws.readyState !== ws.OPEN) return;
      if (!corked) {
        corked = true;
        socket.cork();
        process.nextTick(() => {
          corked = false;
          socket.uncork();
        });
      }
      ws.send(text);
      // A reader that does not keep up must not make the server hold an unbounded queue for it.
      const limit = this.opts.settings().limits['ws-send-buffer'];
      if (ws.bufferedAmount > limit) {
        this.opts.logger.warn(
          { msgId: 'CORE_WS_SLOW_READER', remoteAddress: req.socket.remoteAddress, user, buffered: ws.bufferedAmount, limit },
          `closing a WebSocket from ${req.socket.remoteAddress ?? 'unknown'} with 1013: ${ws.bufferedAmount} bytes queued for it exceed server.limits.ws-send-buffer (${limit})`,
        );
        ws.close(1013, 'reader too slow: server.limits.ws-send-buffer exceeded');
      }
    };
    const sink: EventSink = {
      id: process.getBuiltinModule('node:crypto').randomUUID(),
      notify: (method, params) => {
        reply(JSON.stringify({ jsonrpc: '2.0', method, params }));
      },
    };
    let alive = true;
    const ctx = { transport: 'jsonrpc-ws' as const, remoteAddress: req.socket.remoteAddress, sink, caller, ...(user ? { user } : {}) };
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        reply(JSON.stringify(rpcError(-32700, 'Parse error', 'send JSON-RPC as text frames')));
        return;
      }
      alive = true;
      const maxBatch = this.opts.settings().limits['batch-length'];
      this.track(
        this.admitted(ws, req.socket.remoteAddress, (dispatch) =>
          handleJsonRpcText(data.toString('utf8'), (request, positional) => dispatch(request, { ...ctx, positional }), { maxBatch }),
        ).then((text) => {
          if (text !== undefined) reply(text);
        }),
      );
    });
    // Pings find half-open connections (a peer gone without a FIN): one that has not answered the
    // previous ping (nor sent anything) by the next is closed, and its subscriptions go with it.
    const pingEvery = this.opts.settings().limits['ws-ping-interval'];
    if (pingEvery > 0) {
      ws.on('pong', () => (alive = true));
      const timer = setInterval(() => {
        if (!alive) {
          this.opts.logger.info(
            { msgId: 'CORE_WS_PING_TIMEOUT', remoteAddress: req.socket.remoteAddress, user, intervalMs: pingEvery },
            `closing a WebSocket from ${req.socket.remoteAddress ?? 'unknown'}: no pong within server.limits.ws-ping-interval (${pingEvery} ms)`,
          );
          ws.terminate();
          return;
        }
        alive = false;
        ws.ping();
      }, pingEvery);
      timer.unref();
      ws.on('close', () => clearInterval(timer));
    }
    this.wsClients.add(ws);
    ws.on('close', () => {
      this.wsClients.delete(ws);
      this.opts.events.remove(sink.id);
    });
    ws.on('error', (err) => this.opts.logger.debug({ msgId: 'CORE_WS_ERROR', err }, 'websocket error'));
  }
}

/**
 * The one authentication check of every route (control channels, /ws, the status page, /metrics):
 * the authenticated user, or the challenge to send with a 401.
 */
export function authenticate(
  settings: TransportSettings,
  req: IncomingMessage,
): { ok: true; user: string | undefined; caller: CallerAuth } | { ok: false; challenge: string } {
  const auth = settings.auth;
  if (!auth) return { ok: true, user: undefined, caller: OPEN };
  const header = req.headers.authorization;
  if (header === undefined && !auth.required) return { ok: true, user: undefined, caller: auth.anonymous() };
  const found = auth.verify(header);
  if (found) return { ok: true, user: found.user === '' ? undefined : found.user, caller: found.caller };
  settings.onRefused?.(req.socket.remoteAddress, header === undefined ? undefined : userOf(header));
  return { ok: false, challenge: `Basic realm="${auth.realm}"` };
}

/** A server without any credential: every caller may do everything (only on loopback, or insecure: true). */
const OPEN: CallerAuth = { operator: true, peer: () => true };

/** The user a basic-auth header names (for the log of a refused credential), if it is readable. */
function userOf(header: string): string | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!match) return undefined;
  const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8');
  return decoded.includes(':') ? decoded.slice(0, decoded.indexOf(':')) : undefined;
}

function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4.startsWith('127.') || address === '::1';
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function rpcError(code: number, message: string, data: string) {
  return { jsonrpc: '2.0', id: null, error: { code, message, data } };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  sendText(res, status, JSON.stringify(body));
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': JSON_TYPE, 'Content-Length': Buffer.byteLength(text) }).end(text);
}
