import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import type { Answer } from './commands/answer.ts';
import { PeerRejectedError, PeerUnreachableError, type LibraryHandle, type PeerAddress, type PeerTls } from './hooks/hook-library.ts';
import type { FaultTable } from './faults.ts';
import type { Logger } from './logger.ts';
import { PEER_HEADER } from '../transports/control-server.ts';

/**
 * The `callPeer` of one library's handle: calls in flight are aborted by `signal` (the library's
 * unload), and a peer that rejects our credential is logged at warn — once per peer until it
 * accepts a call again, so a heartbeat every 100 ms does not flood the log.
 */
export function peerCaller(self: string, faults: FaultTable | undefined, logger: Logger, signal: AbortSignal): LibraryHandle['callPeer'] {
  const rejecting = new Set<string>();
  return async (peer, command, args, timeoutMs) => {
    try {
      const answer = await callPeer(self, faults, peer, command, args, timeoutMs, signal);
      rejecting.delete(peer.name);
      return answer;
    } catch (err) {
      if (err instanceof PeerRejectedError && !rejecting.has(peer.name)) {
        rejecting.add(peer.name);
        logger.warn(
          { msgId: 'CORE_PEER_REJECTED', peer: peer.name, url: peer.url, command, status: err.status },
          `peer ${peer.name} rejected ${command} with HTTP ${err.status}: check the peer credentials on both servers`,
        );
      }
      throw err;
    }
  };
}


/**
 * Sends one command to a peer over its Kea control channel and returns the first answer, with the
 * error name and params the peer adds for liveset callers (see toKeaAnswer). Uses keep-alive
 * connections, so a heartbeat every 100 ms costs no TCP handshake.
 */
export async function callPeer(
  self: string,
  faults: FaultTable | undefined,
  peer: PeerAddress,
  command: string,
  args: Record<string, unknown> | undefined,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Answer> {
  if (signal?.aborted) throw new PeerUnreachableError(peer.name, 'the calling library was unloaded');
  if (faults?.isCut(peer.name, 'out')) throw new PeerUnreachableError(peer.name, 'traffic cut by fault injection');
  const headers: Record<string, string> = { 'Content-Type': 'application/json', [PEER_HEADER]: self };
  if (peer.auth) headers['Authorization'] = `Basic ${Buffer.from(`${peer.auth.user}:${peer.auth.password}`).toString('base64')}`;
  const body = JSON.stringify(args === undefined ? { command } : { command, arguments: args });
  let response: { status: number };
  let text: string;
  try {
    const timeout = AbortSignal.timeout(timeoutMs);
    const url = new URL('/', peer.url);
    const both = signal ? AbortSignal.any([timeout, signal]) : timeout;
    ({ response, text } = await post(url, headers, body, both, peer.tls));
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    const reason = signal?.aborted ? 'the calling library was unloaded'
      : e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? e.message);
    throw new PeerUnreachableError(peer.name, reason);
  }
  if (response.status === 401 || response.status === 403) throw new PeerRejectedError(peer.name, response.status);
  if (response.status !== 200) throw new PeerUnreachableError(peer.name, `HTTP ${response.status}: ${text.slice(0, 200)}`);
  let answers: unknown;
  try {
    answers = JSON.parse(text);
  } catch {
    throw new PeerUnreachableError(peer.name, 'answer is not JSON');
  }
  const first = Array.isArray(answers) ? (answers[0] as unknown) : undefined;
  if (first === null || typeof first !== 'object' || typeof (first as Answer).result !== 'number') {
    throw new PeerUnreachableError(peer.name, 'answer is not a Kea answer list');
  }
  return first as Answer;
}

/**
 * Keep-alive agents: one for plain http, one per TLS key material (a library's load reads its
 * files into one PeerTls object, so a reload with new files gets a new agent and the old one is
 * collected). node:http rather than fetch: fetch's first call loads undici and compiles its
 * WebAssembly HTTP parser, about 9 MiB of RSS and 35 ms of CPU in every HA or pool server, and it
 * cannot present a client certificate without undici's own API.
 */
const agents = new WeakMap<PeerTls, HttpsAgent>();
let plainAgent: HttpAgent | undefined;
let plainTlsAgent: HttpsAgent | undefined;

function tlsAgentFor(tls: PeerTls | undefined): HttpsAgent {
  // node:https is loaded with the first https peer: a server whose peers are all http never loads TLS.
  const { Agent: HttpsAgent } = process.getBuiltinModule('node:https');
  if (!tls) return (plainTlsAgent ??= new HttpsAgent({ keepAlive: true }));
  let agent = agents.get(tls);
  if (!agent) {
    // Mutual TLS with node's own TLS: the peer's certificate must chain to trust-anchor (and match
    // the URL's host, an IP literal as Kea requires), and this server presents cert-file.
    agent = new HttpsAgent({ keepAlive: true, ca: tls.ca, cert: tls.cert, key: tls.key });
    agents.set(tls, agent);
  }
  return agent;
}

type Posted = { response: { status: number }; text: string };

/**
 * One POST; failures shaped like fetch's (a TimeoutError or AbortError name, the socket error's
 * code as `cause.code`), which is what callPeer reports. A kept-alive connection that the peer
 * closed while it sat idle fails with ECONNRESET as soon as it is reused, before the peer has read
 * anything (fetch avoids it by honouring the peer's Keep-Alive timeout hint; node 20's Agent does
 * not): that request is sent once more on a new connection, as node's documentation advises.
 */
function post(url: URL, headers: Record<string, string>, body: string, signal: AbortSignal, tls: PeerTls | undefined, retried = false): Promise<Posted> {
  return new Promise((resolve, reject) => {
    const options = { method: 'POST', headers: { ...headers, 'Content-Length': Buffer.byteLength(body) }, signal };
    const onResponse = (res: IncomingMessage) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ response: { status: res.statusCode ?? 0 }, text }));
      res.on('error', reject);
    };
    const req: ClientRequest = url.protocol === 'https:'
      ? process.getBuiltinModule('node:https').request(url, { ...options, agent: tlsAgentFor(tls) }, onResponse)
      : httpRequest(url, { ...options, agent: (plainAgent ??= new HttpAgent({ keepAlive: true })) }, onResponse);
    req.on('error', (err: Error & { code?: string }) => {
      if (signal.aborted) {
        reject(Object.assign(new Error('aborted'), { name: (signal.reason as Error | undefined)?.name ?? 'AbortError' }));
      } else if (req.reusedSocket && err.code === 'ECONNRESET' && !retried) {
        post(url, headers, body, signal, tls, true).then(resolve, reject);
      } else {
        reject(Object.assign(new Error(err.message), { cause: { code: err.code ?? err.message } }));
      }
    });
    req.end(body);
  });
}
