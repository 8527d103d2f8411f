import { request as httpsRequest } from 'node:https';
import WebSocket from 'ws';
import type { ClientTls } from '../probe.ts';
import type { Credentials, Request } from './scenario-types.ts';

/** A request that got no answer at all (connection refused, timeout, not JSON). */
export class WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireError';
  }
}

export interface WireOptions {
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
  readonly auth?: Credentials;
  readonly xenapi?: Credentials;
  /** XenAPI session references by server URL; a restart invalidates them. */
  readonly sessions: Map<string, string>;
  /** For https:// servers (server.tls): the CA their certificates chain to, and a client certificate. */
  readonly tls?: ClientTls;
}

let nextId = 1;

function headers(auth: Credentials | undefined): Record<string, string> {
  const h: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (auth !== undefined) h['authorization'] = `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}`;
  return h;
}

/**
 * POST over node:https with the client TLS given (fetch cannot take a CA or a client certificate
 * without undici's own Agent, which is not a dependency).
 */
function postTls(url: string, body: string, o: WireOptions, signal: AbortSignal): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, {
      method: 'POST', headers: { ...headers(o.auth), 'content-length': Buffer.byteLength(body) }, signal,
      ...(o.tls?.ca ? { ca: o.tls.ca } : {}), ...(o.tls?.cert ? { cert: o.tls.cert } : {}), ...(o.tls?.key ? { key: o.tls.key } : {}),
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function postJson(url: string, body: unknown, o: WireOptions): Promise<{ status: number; json: unknown }> {
  const signal = AbortSignal.any([o.signal, AbortSignal.timeout(o.timeoutMs)]);
  let res: { status: number; text: string };
  try {
    if (url.startsWith('https:')) res = await postTls(url, JSON.stringify(body), o, signal);
    else {
      const r = await fetch(url, { method: 'POST', headers: headers(o.auth), body: JSON.stringify(body), signal });
      res = { status: r.status, text: await r.text() };
    }
  } catch (err) {
    const e = err as Error & { code?: string; cause?: { code?: string; message?: string } };
    const why = e.name === 'TimeoutError' || (e.name === 'AbortError' && !o.signal.aborted) ? `no answer within ${o.timeoutMs} ms` : (e.cause?.code ?? e.code ?? e.cause?.message ?? e.message);
    throw new WireError(`POST ${url}: ${why}`);
  }
  const text = res.text;
  try {
    return { status: res.status, json: JSON.parse(text) };
  } catch {
    throw new WireError(`POST ${url}: HTTP ${res.status}, body is not JSON: ${text.slice(0, 200)}`);
  }
}

/** Keeps only the JSON-RPC members a scenario matches against. */
function rpcAnswer(json: unknown): unknown {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return json;
  const r = json as Record<string, unknown>;
  return 'error' in r && r['error'] !== null ? { error: r['error'] } : { result: r['result'] };
}

async function kea(url: string, req: Request, o: WireOptions): Promise<unknown> {
  const body = { command: req.command, ...(req.arguments === undefined ? {} : { arguments: req.arguments }) };
  const { json } = await postJson(url, body, o);
  // Kea answers with a list (one per service); a bare object is an HTTP-level refusal.
  return Array.isArray(json) ? json[0] : json;
}

async function jsonrpc(url: string, method: string, params: unknown, o: WireOptions): Promise<unknown> {
  const { json } = await postJson(new URL('jsonrpc', url).href, { jsonrpc: '2.0', id: nextId++, method, params }, o);
  return rpcAnswer(json);
}

/** One JSON-RPC call over a fresh WebSocket to `/ws`. */
async function ws(url: string, req: Request, o: WireOptions): Promise<unknown> {
  const socket = await openSocket(url, o);
  try {
    const id = nextId++;
    const answer = await new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => reject(new WireError(`${wsUrl(url)}: no answer within ${o.timeoutMs} ms`)), o.timeoutMs);
      socket.on('message', (data) => {
        let msg: unknown;
        try {
          msg = JSON.parse(String(data));
        } catch {
          return;
        }
        if ((msg as { id?: unknown }).id === id) {
          clearTimeout(timer);
          resolve(rpcAnswer(msg));
        }
      });
      socket.on('close', () => reject(new WireError(`${wsUrl(url)}: closed before answering`)));
      socket.send(JSON.stringify({ jsonrpc: '2.0', id, method: req.command, params: req.arguments ?? {} }));
    });
    return answer;
  } finally {
    socket.close();
  }
}

export const wsUrl = (url: string): string => new URL('ws', url).href.replace(/^http/, 'ws');

/** Opens a WebSocket to a server's `/ws`, failing with a WireError. */
export function openSocket(url: string, o: Pick<WireOptions, 'timeoutMs' | 'auth' | 'tls'>): Promise<WebSocket> {
  const target = wsUrl(url);
  return new Promise((resolve, reject) => {
    const auth = o.auth === undefined ? {} : { headers: { authorization: headers(o.auth)['authorization'] ?? '' } };
    const tls = target.startsWith('wss:') && o.tls ? { ...(o.tls.ca ? { ca: o.tls.ca } : {}), ...(o.tls.cert ? { cert: o.tls.cert } : {}), ...(o.tls.key ? { key: o.tls.key } : {}) } : {};
    const socket = new WebSocket(target, { handshakeTimeout: o.timeoutMs, ...auth, ...tls });
    socket.once('open', () => resolve(socket));
    socket.once('error', (err) => reject(new WireError(`${target}: ${(err as NodeJS.ErrnoException).code ?? err.message}`)));
    socket.once('unexpected-response', (_req, res) => {
      reject(new WireError(`${target}: HTTP ${res.statusCode}`));
      socket.terminate();
    });
  });
}

const SESSIONLESS = /^(session\.login_with_password|session\.slave_local_login_with_password|system\.listMethods)$/;

/** A XenAPI-style call: positional params with a session reference first, logging in when needed. */
async function xenapi(url: string, req: Request, o: WireOptions): Promise<unknown> {
  const params = req.params ?? [];
  if (SESSIONLESS.test(req.command)) return jsonrpc(url, req.command, params, o);
  const call = async (fresh: boolean): Promise<unknown> => {
    let session = fresh ? undefined : o.sessions.get(url);
    if (session === undefined) {
      if (o.xenapi === undefined) throw new WireError(`${req.command} via xenapi needs \`xenapi: {user, password}\` in the scenario`);
      const login = (await jsonrpc(url, 'session.login_with_password', [o.xenapi.user, o.xenapi.password], o)) as { result?: unknown };
      // A refused login (HOST_IS_SLAVE, bad password) is the answer the scenario gets to check.
      if (typeof login.result !== 'string') return login;
      session = login.result;
      o.sessions.set(url, session);
    }
    return jsonrpc(url, req.command, [session, ...params], o);
  };
  const answer = (await call(false)) as { error?: { message?: unknown } };
  return answer.error?.message === 'SESSION_INVALID' ? call(true) : answer;
}

/** Sends `req` to the server at `url` over the request's wire format and returns the answer to match. */
export function send(url: string, req: Request, o: WireOptions): Promise<unknown> {
  switch (req.via) {
    case 'kea':
      return kea(url, req, o);
    case 'jsonrpc':
      return jsonrpc(url, req.command, req.arguments ?? {}, o);
    case 'ws':
      return ws(url, req, o);
    case 'xenapi':
      return xenapi(url, req, o);
  }
}
