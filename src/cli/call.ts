import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

/** Exit code for "could not get an answer at all", distinct from Kea's result codes 0–4. */
export const EXIT_NO_ANSWER = 10;

/**
 * `liveset call COMMAND [--args JSON|@file] [--url URL]`: sends one command on the Kea channel and
 * prints the answer. Unlike kea-shell, the exit code is the answer's result (0 only on success), so
 * scripts can use `&&`; 10 means no answer (connection refused, HTTP error, timeout).
 */
export async function callCli(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      args: { type: 'string', short: 'a' },
      url: { type: 'string', short: 'u' },
      service: { type: 'string', multiple: true },
      user: { type: 'string' },
      password: { type: 'string' },
      'password-file': { type: 'string' },
      timeout: { type: 'string', default: '10000' },
      jsonrpc: { type: 'boolean', default: false },
      // kea-shell's TLS options: the CA the server's certificate must chain to, and a client certificate.
      ca: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
    },
    allowPositionals: true,
  });
  const command = positionals[0];
  if (!command || positionals.length > 1) {
    process.stderr.write('usage: liveset call COMMAND [--args JSON|@file] [--url URL] [--service NAME] [--user U [--password-file F | --password P]] [--jsonrpc] [--ca FILE [--cert FILE --key FILE]]\n'
      + '  the password may also come from LIVESET_PASSWORD (and the user from LIVESET_USER), so it does not show in ps\n');
    return 2;
  }
  let args: unknown;
  if (values.args !== undefined) {
    const text = values.args.startsWith('@') ? readFileSync(values.args.slice(1), 'utf8') : values.args;
    try {
      args = JSON.parse(text);
    } catch (err) {
      process.stderr.write(`--args: not valid JSON: ${(err as Error).message}\n`);
      return 2;
    }
  }
  const base = values.url ?? process.env['LIVESET_URL'] ?? 'http://127.0.0.1:8000/';
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  // The password from a file or the environment keeps it out of the process list (ps shows argv).
  const user = values.user ?? process.env['LIVESET_USER'];
  let password = values.password ?? process.env['LIVESET_PASSWORD'];
  if (values['password-file'] !== undefined) {
    try {
      password = readFileSync(values['password-file'], 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      process.stderr.write(`--password-file: cannot read ${values['password-file']}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`);
      return 2;
    }
  }
  if (user !== undefined) headers['Authorization'] = `Basic ${Buffer.from(`${user}:${password ?? ''}`).toString('base64')}`;
  if ((values.cert === undefined) !== (values.key === undefined)) {
    process.stderr.write('--cert and --key must be given together\n');
    return 2;
  }
  const tls: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {};
  for (const k of ['ca', 'cert', 'key'] as const) {
    const file = values[k];
    if (file === undefined) continue;
    try {
      tls[k] = readFileSync(file);
    } catch (err) {
      process.stderr.write(`--${k}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`);
      return 2;
    }
  }
  const body = values.jsonrpc
    ? { jsonrpc: '2.0', id: 1, method: command, ...(args !== undefined ? { params: args } : {}) }
    : { command, ...(values.service ? { service: values.service } : {}), ...(args !== undefined ? { arguments: args } : {}) };
  let status: number;
  let text: string;
  try {
    ({ status, text } = await post(new URL(values.jsonrpc ? 'jsonrpc' : '', base), headers, JSON.stringify(body), Number(values.timeout), tls));
  } catch (err) {
    const e = err as Error & { code?: string };
    process.stderr.write(`liveset call: no answer from ${base}: ${e.code ?? e.message}\n`);
    return EXIT_NO_ANSWER;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    process.stderr.write(`liveset call: HTTP ${status}, not JSON: ${text.slice(0, 500)}\n`);
    return EXIT_NO_ANSWER;
  }
  process.stdout.write(`${JSON.stringify(parsed, null, 2)}\n`);
  if (status !== 200) return EXIT_NO_ANSWER;
  if (values.jsonrpc) return (parsed as { error?: unknown }).error ? 1 : 0;
  const result = Array.isArray(parsed) ? (parsed[0] as { result?: unknown } | undefined)?.result : undefined;
  return typeof result === 'number' ? Math.min(result, 9) : EXIT_NO_ANSWER;
}

/**
 * One POST with node:http(s) rather than fetch: loading fetch's implementation (undici) costs a
 * one-shot command about 20 MB of memory and tens of milliseconds.
 */
async function post(url: URL, headers: Record<string, string>, body: string, timeoutMs: number, tls: { ca?: Buffer; cert?: Buffer; key?: Buffer }): Promise<{ status: number; text: string }> {
  // TLS is loaded only for an https URL (server.tls), for the same reason.
  const { request } = url.protocol === 'https:' ? await import('node:https') : await import('node:http');
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { ...headers, 'Content-Length': Buffer.byteLength(body) }, timeout: timeoutMs, ...(url.protocol === 'https:' ? tls : {}) }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(body);
  });
}
