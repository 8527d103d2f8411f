import { createServer } from 'node:http';

/**
 * Baseline: the least a node:http control channel can do. It reads the body and answers a fixed
 * JSON list shaped like a Kea answer, with no parsing, validation or dispatch.
 */
const body = JSON.stringify([{ result: 0, text: 'ok', arguments: { pid: process.pid } }]);
const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  req.on('data', () => undefined);
  req.on('end', () => {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
  });
});
const { port = 0 } = JSON.parse(process.argv[2] ?? '{}') as { port?: number };
server.listen(port, '127.0.0.1', () => {
  const addr = server.address() as { port: number };
  process.stdout.write(JSON.stringify({ port: addr.port }) + '\n');
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
