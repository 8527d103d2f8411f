import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import type { Overview } from '../operator/overview.ts';
import { overviewText } from '../operator/overview-text.ts';
import { EXIT_NO_ANSWER } from './call.ts';

const USAGE = 'usage: liveset status [--url URL] [--user U --password P] [--once] [--interval MS]\n';

/**
 * `liveset status`: the status page's picture in the terminal. Redraws every --interval ms and at
 * once whenever the server pushes an event over /ws; --once prints one picture and exits (0, or 10
 * when the server did not answer).
 */
export async function statusCli(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        url: { type: 'string', short: 'u' },
        user: { type: 'string' },
        password: { type: 'string' },
        once: { type: 'boolean', default: false },
        interval: { type: 'string', default: '1000' },
      },
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const interval = Number(values.interval);
  if (!Number.isInteger(interval) || interval < 100) {
    process.stderr.write(`--interval: must be an integer of at least 100 (ms)\n${USAGE}`);
    return 2;
  }
  const base = values.url ?? process.env['LIVESET_URL'] ?? 'http://127.0.0.1:8000/';
  const headers: Record<string, string> = {};
  if (values.user !== undefined) headers['Authorization'] = `Basic ${Buffer.from(`${values.user}:${values.password ?? ''}`).toString('base64')}`;
  const fetchOverview = async (): Promise<Overview | string> => {
    try {
      const res = await fetch(new URL('/ui/overview.json', base), { headers, signal: AbortSignal.timeout(5000) });
      if (res.status !== 200) return `HTTP ${res.status} from ${base}: ${(await res.text()).slice(0, 200)}`;
      return (await res.json()) as Overview;
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      return `no answer from ${base}: ${e.cause?.code ?? e.message}`;
    }
  };
  const color = process.stdout.isTTY === true && process.env['NO_COLOR'] === undefined;
  if (values.once) {
    const o = await fetchOverview();
    if (typeof o === 'string') {
      process.stderr.write(`liveset status: ${o}\n`);
      return EXIT_NO_ANSWER;
    }
    process.stdout.write(overviewText(o, { color }));
    return 0;
  }
  let drawing = false;
  const draw = async () => {
    if (drawing) return;
    drawing = true;
    const o = await fetchOverview();
    drawing = false;
    const text = typeof o === 'string' ? `liveset status: ${o}\n` : overviewText(o, { color });
    // Home and clear, so the picture is redrawn in place rather than scrolled.
    process.stdout.write(`${process.stdout.isTTY ? '\x1b[H\x1b[2J' : ''}${text}${process.stdout.isTTY ? '' : '\n'}`);
  };
  const events = subscribe(base, headers, () => void draw());
  await draw();
  const timer = setInterval(() => void draw(), interval);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  clearInterval(timer);
  events.close();
  return 0;
}

/** Redraws on every event the server pushes; reconnects quietly when the server goes away. */
function subscribe(base: string, headers: Record<string, string>, onEvent: () => void): { close(): void } {
  let ws: WebSocket | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  const connect = () => {
    ws = new WebSocket(new URL('/ws', base).href.replace(/^http/, 'ws'), { headers });
    ws.on('open', () => ws?.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscribe', params: { events: ['*'] } })));
    ws.on('message', (data) => {
      if ((JSON.parse(String(data)) as { method?: string }).method) onEvent();
    });
    ws.on('error', () => undefined);
    ws.on('close', () => {
      if (!closed) retry = setTimeout(connect, 1000);
    });
  };
  connect();
  return {
    close() {
      closed = true;
      clearTimeout(retry);
      ws?.terminate();
    },
  };
}
