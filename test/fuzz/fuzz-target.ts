import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { freePorts, startLiveset, type LivesetProcess } from '../helpers/liveset.ts';
import type { FuzzInput } from './inputs.ts';
import type { Vocabulary } from './schema-arbitrary.ts';
import { checkJsonRpc, checkKea, type Verdict } from './wire-checks.ts';

/** A request the server has not answered within this long is a hang. */
const ANSWER_TIMEOUT_MS = 20_000;

export interface FuzzStats {
  inputs: number;
  accepted: number;
  rejected: number;
  unanswered: number;
  byWire: Record<string, number>;
  byKind: Record<string, number>;
}

/**
 * One real liveset server (127.0.0.1, port from the OS) with both libraries: an ha primary in
 * passive-backup (its backup is never started, so nothing moves by itself) and a one-host pool.
 * `check(input)` sends one input on its wire and returns every problem seen: no answer in time,
 * a malformed answer, the process gone, or state changed by a refused command.
 */
export class FuzzTarget {
  readonly stats: FuzzStats = { inputs: 0, accepted: 0, rejected: 0, unanswered: 0, byWire: {}, byKind: {} };
  private ws: WebSocket | undefined;
  private frames: string[] = [];
  private frameWaiters: (() => void)[] = [];
  private sentinel = 0;
  private closeCode: number | undefined;
  private dead = false;

  private constructor(readonly server: LivesetProcess, readonly session: string, readonly vocab: Vocabulary) {
    void server.exited().then(() => (this.dead = true));
  }

  static async start(): Promise<FuzzTarget> {
    const [port, backupPort] = await freePorts(2);
    const url = `http://127.0.0.1:${port}/`;
    const config = {
      server: { 'data-dir': join(mkdtempSync(join(tmpdir(), 'liveset-fuzz-')), 'var') },
      logging: { level: 'error' },
      'hooks-libraries': [
        {
          library: 'ha',
          parameters: {
            'high-availability': [{
              'this-server-name': 'fz1', mode: 'passive-backup',
              peers: [{ name: 'fz1', url, role: 'primary' }, { name: 'fz2', url: `http://127.0.0.1:${backupPort}/`, role: 'backup' }],
            }],
          },
        },
        { library: 'pool', parameters: { name: 'fz', master: 'fz1', hosts: [{ name: 'fz1', url }], credentials: [{ user: 'root', password: 'secret' }] } },
      ],
    };
    const server = await startLiveset({ config, server: 'fz1', readyTimeoutMs: 60_000 });
    try {
      const login = await postJson(new URL('/jsonrpc', url), { jsonrpc: '2.0', id: 1, method: 'session.login_with_password', params: ['root', 'secret'] });
      const session = String((JSON.parse(login.text) as { result: unknown }).result);
      const status = await keaArgs(url, 'host.local_status');
      const vm = await keaArgs(url, 'VM.create', { args: { name_label: 'fuzz-seed-vm', memory_static_max: 1 } });
      const pools = Object.keys((await keaArgs(url, 'pool.get_all_records')) as Record<string, unknown>);
      const vocab: Vocabulary = {
        strings: [String(status['host_ref']), String(vm), ...pools, 'fz1', 'fz2', 'root', 'secret', session, String(status['address']), 'OpaqueRef:NULL', 'hex', 'VM', 'host', '*'],
      };
      const target = new FuzzTarget(server, session, vocab);
      await target.connectWs();
      return target;
    } catch (err) {
      await server.stop();
      throw err;
    }
  }

  get url(): string {
    return this.server.url;
  }

  async stop(): Promise<void> {
    this.ws?.terminate();
    await this.server.stop();
  }

  private connectWs(): Promise<void> {
    const ws = new WebSocket(new URL('/ws', this.url).href.replace('http', 'ws'));
    this.ws = ws;
    ws.on('message', (data) => {
      this.frames.push(data.toString());
      for (const w of this.frameWaiters.splice(0)) w();
    });
    ws.on('close', (code) => {
      this.closeCode = code;
      for (const w of this.frameWaiters.splice(0)) w();
    });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
  }

  /** True once the server is gone or its state can no longer be read: later inputs prove nothing. */
  get broken(): boolean {
    return this.dead || this.digestFailed;
  }

  private digestFailed = false;

  /** status-get failing is a finding in itself (the input before it left the server unable to report). */
  private unreadable(err: Error, when: 'before' | 'after'): string[] {
    this.digestFailed = true;
    return [`status-get failed ${when} the input (the server can no longer report its state): ${err.message}`];
  }

  /** What must not change when a command is refused: HA state and scopes, pool role and database generation. */
  async digest(): Promise<string> {
    const a = await keaArgs(this.url, 'status-get');
    const ha = (a['high-availability'] as { 'ha-servers': { local: Record<string, unknown> } }[])[0]?.['ha-servers'].local ?? {};
    const pool = a['pool'] as Record<string, unknown>;
    return JSON.stringify({ state: ha['state'], scopes: ha['scopes'], paused: ha['paused'], role: pool['role'], master: pool['master_address'], generation: pool['generation'] });
  }

  async check(input: FuzzInput): Promise<string[]> {
    const s = this.stats;
    s.inputs++;
    s.byWire[input.wire] = (s.byWire[input.wire] ?? 0) + 1;
    s.byKind[input.kind] = (s.byKind[input.kind] ?? 0) + 1;
    const before = await this.digest().catch((err: unknown) => err as Error);
    if (before instanceof Error) return this.unreadable(before, 'before');
    let verdict: Verdict;
    try {
      verdict = await this.deliver(input);
    } catch (err) {
      verdict = { problems: [`no well-formed exchange: ${(err as Error).message}`], rejected: undefined };
    }
    const problems = [...verdict.problems];
    if (this.dead) return [...problems, `server process exited\n${this.server.logs().slice(-2000)}`];
    const after = await this.digest().catch((err: unknown) => err as Error);
    if (after instanceof Error) return [...problems, ...this.unreadable(after, 'after')];
    if (verdict.rejected === true && after !== before) {
      const again = await this.replay(input);
      if (again !== undefined) problems.push(`refused, yet the state changed: ${again}`);
    }
    if (verdict.rejected === true) s.rejected++;
    else if (verdict.rejected === false) s.accepted++;
    else s.unanswered++;
    return problems;
  }

  /**
   * A refused input seemed to change the state; an earlier notification (answered before it ran)
   * may have landed meanwhile. Sent again once the server is quiet: only a change that comes
   * again is a finding. Returns the change, or undefined.
   */
  private async replay(input: FuzzInput): Promise<string | undefined> {
    await new Promise((r) => setTimeout(r, 500));
    const before = await this.digest();
    const v = await this.deliver(input).catch(() => undefined);
    const after = await this.digest();
    return v?.rejected === true && after !== before ? `${before} -> ${after}` : undefined;
  }

  private async deliver(input: FuzzInput): Promise<Verdict> {
    switch (input.wire) {
      case 'kea': {
        const r = await postText(new URL('/', this.url), input.body);
        return checkKea(r.status, r.text);
      }
      case 'jsonrpc-http':
      case 'xenapi': {
        const r = await postText(new URL('/jsonrpc', this.url), input.body);
        const v = checkJsonRpc(r.text, input.ids, input.kind !== 'invalid');
        if (r.text === '' && r.status !== 204) v.problems.push(`empty JSON-RPC body with HTTP ${r.status}`);
        return v;
      }
      case 'jsonrpc-ws':
        return this.deliverWs(input);
    }
  }

  /**
   * Sends the input as one text frame, then a sentinel request; every frame up to the sentinel's
   * answer belongs to the input. A frame over the payload limit may be refused by closing the
   * socket with 1009 (message too big); the fuzzer then reconnects.
   */
  private async deliverWs(input: FuzzInput): Promise<Verdict> {
    if (this.ws === undefined || this.ws.readyState !== WebSocket.OPEN) await this.connectWs();
    const ws = this.ws as WebSocket;
    const sentinel = `sentinel-${++this.sentinel}`;
    this.frames = [];
    this.closeCode = undefined;
    ws.send(input.body);
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: sentinel, method: 'version-get' }));
    const strict = input.kind !== 'invalid';
    const deadline = Date.now() + ANSWER_TIMEOUT_MS;
    for (;;) {
      // Answers on one socket come in completion order, so wait for the sentinel and every id asked.
      const parsed = this.frames.flatMap(tryParse);
      const answered = (id: unknown) => parsed.some((r) => (r as { id?: unknown } | null)?.id === id);
      if (answered(sentinel) && (!strict || input.ids.every(answered))) {
        // Event notifications pushed to this socket (after a fuzzed `subscribe`) are not answers.
        const own = this.frames.filter((f) => !f.includes(`"${sentinel}"`) && !isServerNotification(f));
        const verdicts = own.map((f) => checkJsonRpc(f, [], false));
        const problems = verdicts.flatMap((v) => v.problems);
        // Refusal is judged only for requests whose every answer is in (notifications have none).
        const judged = strict && input.ids.length > 0 && own.length > 0;
        return { problems, rejected: judged ? verdicts.every((v) => v.rejected === true) : undefined };
      }
      if (this.closeCode !== undefined) {
        if (this.closeCode === 1009 && input.body.length > 100_000) return { problems: [], rejected: true };
        return { problems: [`WebSocket closed with ${this.closeCode}`], rejected: undefined };
      }
      if (Date.now() > deadline) return { problems: [`no WebSocket answer within ${ANSWER_TIMEOUT_MS} ms`], rejected: undefined };
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 1000);
        this.frameWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}

/** A JSON-RPC notification from the server (an event for a subscriber): method, no id. */
function isServerNotification(frame: string): boolean {
  const [v] = tryParse(frame) as { jsonrpc?: unknown; method?: unknown; id?: unknown }[];
  return v !== undefined && v.jsonrpc === '2.0' && typeof v.method === 'string' && !('id' in v);
}

function tryParse(f: string): unknown[] {
  try {
    const v = JSON.parse(f) as unknown;
    return Array.isArray(v) ? v : [v];
  } catch {
    return [];
  }
}

async function postText(url: URL, body: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body, signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS) });
  return { status: res.status, text: await res.text() };
}

const postJson = (url: URL, v: unknown) => postText(url, JSON.stringify(v));

async function keaArgs(url: string, command: string, args?: unknown): Promise<Record<string, unknown>> {
  const r = await postJson(new URL('/', url), args === undefined ? { command } : { command, arguments: args });
  const a = (JSON.parse(r.text) as { result: number; text?: string; arguments?: unknown }[])[0];
  if (a?.result !== 0) throw new Error(`${command}: ${r.text.slice(0, 200)}`);
  return a.arguments as Record<string, unknown>;
}
