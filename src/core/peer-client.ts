import type { Answer } from './commands/answer.ts';
import { PeerUnreachableError, type PeerAddress } from './hooks/hook-library.ts';
import type { FaultTable } from './faults.ts';
import { PEER_HEADER } from '../transports/control-server.ts';


/**
 * Sends one command to a peer over its Kea control channel and returns the first answer, with the
 * error name and params the peer adds for liveset callers (see toKeaAnswer). Uses
 * fetch's pooled keep-alive connections, so a heartbeat every 100 ms costs no TCP handshake.
 */
export async function callPeer(
  self: string,
  faults: FaultTable | undefined,
  peer: PeerAddress,
  command: string,
  args: Record<string, unknown> | undefined,
  timeoutMs: number,
): Promise<Answer> {
  if (faults?.isCut(peer.name, 'out')) throw new PeerUnreachableError(peer.name, 'traffic cut by fault injection');
  const headers: Record<string, string> = { 'Content-Type': 'application/json', [PEER_HEADER]: self };
  if (peer.auth) headers['Authorization'] = `Basic ${Buffer.from(`${peer.auth.user}:${peer.auth.password}`).toString('base64')}`;
  const body = JSON.stringify(args === undefined ? { command } : { command, arguments: args });
  let response: Response;
  let text: string;
  try {
    response = await fetch(new URL('/', peer.url), { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs) });
    text = await response.text();
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    const reason = e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? e.message);
    throw new PeerUnreachableError(peer.name, reason);
  }
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
