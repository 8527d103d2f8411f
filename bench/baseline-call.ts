import { request } from 'node:http';

/**
 * Baseline for `liveset call`: the least a Node.js script does to send one Kea command and print
 * the answer (node:http, as `liveset call` uses), with no argument parsing or modules of its own.
 */
const url = process.argv[2] ?? 'http://127.0.0.1:8000/';
const body = '{"command":"version-get"}';
const req = request(url, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': body.length } }, (res) => {
  let text = '';
  res.setEncoding('utf8');
  res.on('data', (c: string) => (text += c));
  res.on('end', () => process.stdout.write(`${JSON.stringify(JSON.parse(text), null, 2)}\n`));
});
req.end(body);
