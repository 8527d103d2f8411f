import { readFileSync, readdirSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../core/logger.ts';
import type { ExtraRoutes } from '../transports/control-server.ts';
import { readBody } from '../transports/http-body.ts';
import type { ServerMetrics } from '../metrics/server-metrics.ts';
import { buildOverview, peerCommand, reason, type OverviewHost } from './overview.ts';
import { packageDir } from './package-assets.ts';

export interface OperatorHost extends OverviewHost {
  readonly metrics: ServerMetrics;
  readonly logger: Logger;
}

/** The commands the page's buttons may send, to this server or (as the same operator) to a peer. */
export const PAGE_COMMANDS: ReadonlySet<string> = new Set(['ha-continue', 'ha-maintenance-start', 'ha-maintenance-cancel', 'ha-reset']);

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' };
/** Everything the page loads comes from this server: no CDN, works offline. */
const CSP = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'";
const COMMAND_BODY_LIMIT = 4096;

/**
 * GET /ui (the status page and its static files from the package's ui/ directory), GET
 * /ui/overview.json (what the page draws), POST /ui/command (its buttons) and GET /metrics.
 * The transport has already authenticated the caller with the API's own check.
 */
export class OperatorRoutes implements ExtraRoutes {
  private readonly assets: Map<string, { type: string; body: Buffer }>;

  constructor(private readonly host: OperatorHost) {
    // Read once at start: the page is part of the installed package, never a path from a request.
    const dir = packageDir('ui');
    this.assets = new Map(readdirSync(dir).filter((f) => TYPES[extname(f)] !== undefined).map((f) => [f, { type: TYPES[extname(f)] as string, body: readFileSync(join(dir, f)) }]));
  }

  handles(path: string): boolean {
    return path === '/metrics' || path === '/ui' || path.startsWith('/ui/');
  }

  async serve(req: IncomingMessage, res: ServerResponse, path: string, user: string | undefined): Promise<void> {
    if (path === '/ui/command') return this.command(req, res, user);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return sendJson(res, 405, { error: `${req.method} is not allowed on ${path}` });
    }
    if (path === '/metrics') {
      const text = await this.host.metrics.text();
      res.writeHead(200, { 'Content-Type': this.host.metrics.contentType, 'Cache-Control': 'no-store' }).end(text);
      return;
    }
    if (path === '/ui') {
      res.writeHead(301, { Location: '/ui/' }).end();
      return;
    }
    if (path === '/ui/overview.json') {
      const overview = await buildOverview(this.host, req.headers.authorization, user, Date.now());
      return sendJson(res, 200, overview);
    }
    const asset = this.assets.get(path === '/ui/' ? 'index.html' : path.slice('/ui/'.length));
    if (asset === undefined) return sendJson(res, 404, { error: `no such page: ${path}` });
    res.writeHead(200, { 'Content-Type': asset.type, 'Content-Length': asset.body.length, 'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-cache' });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
  }

  /**
   * A button: `{server, command, arguments?}`, limited to PAGE_COMMANDS. JSON only and same-origin
   * only, so another site cannot make a logged-in browser press a button (a form cannot send JSON,
   * and a cross-origin fetch carries an Origin that does not match).
   */
  private async command(req: IncomingMessage, res: ServerResponse, user: string | undefined): Promise<void> {
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      return sendJson(res, 405, { error: 'buttons are sent with POST' });
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/json') return sendJson(res, 415, { error: 'Content-Type must be application/json' });
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${req.headers.host}` && origin !== `https://${req.headers.host}`) {
      return sendJson(res, 403, { error: `origin ${origin} may not send commands` });
    }
    const body = await readBody(req, COMMAND_BODY_LIMIT);
    if (!body.ok) return sendJson(res, 413, { error: `body exceeds ${COMMAND_BODY_LIMIT} bytes` });
    let parsed: { server?: unknown; command?: unknown; arguments?: unknown };
    try {
      parsed = JSON.parse(body.text) as typeof parsed;
    } catch {
      return sendJson(res, 400, { error: 'body is not JSON' });
    }
    const { server, command } = parsed;
    const args = parsed.arguments;
    if (typeof command !== 'string' || !PAGE_COMMANDS.has(command)) {
      return sendJson(res, 400, { error: `command: must be one of ${[...PAGE_COMMANDS].join(', ')}` });
    }
    if (args !== undefined && (typeof args !== 'object' || args === null || Array.isArray(args))) return sendJson(res, 400, { error: 'arguments: must be an object' });
    const member = server === undefined || server === this.host.serverName() ? undefined : this.host.members().find((m) => m.name === server);
    if (server !== undefined && server !== this.host.serverName() && member === undefined) return sendJson(res, 400, { error: `server: no member named ${String(server)}` });
    this.host.logger.info({ msgId: 'UI_COMMAND', command, server: server ?? this.host.serverName(), user }, `status page: ${command} on ${String(server ?? this.host.serverName())}`);
    try {
      const a = member === undefined
        ? await this.host.dispatch(command, args as Record<string, unknown> | undefined, user)
        : await peerCommand(member.url, command, args as Record<string, unknown> | undefined, req.headers.authorization);
      return sendJson(res, 200, a);
    } catch (err) {
      return sendJson(res, 502, { error: `${String(server)} did not answer: ${reason(err)}` });
    }
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' }).end(text);
}
