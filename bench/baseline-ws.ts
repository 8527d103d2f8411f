import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

/** Baseline: a bare `ws` server on /ws that echoes every text frame back unchanged. */
const server = createServer((_req, res) => res.writeHead(404).end());
const wss = new WebSocketServer({ server, path: '/ws' });
wss.on('connection', (ws) => {
  ws.on('message', (data: Buffer, isBinary) => ws.send(isBinary ? data : data.toString('utf8')));
});
server.listen(0, '127.0.0.1', () => {
  const addr = server.address() as { port: number };
  process.stdout.write(JSON.stringify({ port: addr.port }) + '\n');
});
process.on('SIGTERM', () => {
  for (const ws of wss.clients) ws.terminate();
  wss.close();
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
