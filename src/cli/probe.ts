import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** Client TLS for the command line: kea-shell's --ca, --cert, --key, as PEM contents. */
export interface ClientTls {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

/**
 * True when `url` answers an HTTP request at all (even 401: the server is listening). For an
 * https URL the server's certificate is checked against `tls.ca` and `tls.cert`/`tls.key` are
 * presented, so a server that demands client certificates (server.tls.cert-required) answers too.
 * `liveset up` and the tests use it to wait for their servers, http or https.
 */
export function answers(url: string, tls: ClientTls | undefined, timeoutMs = 1000): Promise<boolean> {
  const u = new URL(url);
  const body = '{"command":"list-commands"}';
  const options = { method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }, timeout: timeoutMs };
  return new Promise((resolve) => {
    const done = (ok: boolean) => resolve(ok);
    const onResponse = (res: import('node:http').IncomingMessage) => {
      res.resume();
      res.on('end', () => done(true));
      res.on('error', () => done(false));
    };
    const req = u.protocol === 'https:'
      ? httpsRequest(u, { ...options, agent: false, ...(tls?.ca ? { ca: tls.ca } : {}), ...(tls?.cert ? { cert: tls.cert } : {}), ...(tls?.key ? { key: tls.key } : {}) }, onResponse)
      : httpRequest(u, { ...options, agent: false }, onResponse);
    req.on('timeout', () => req.destroy());
    req.on('error', () => done(false));
    req.end(body);
  });
}
