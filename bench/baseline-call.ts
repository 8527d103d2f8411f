/**
 * Baseline for `liveset call`: the least a Node.js script does to send one Kea command and print
 * the answer (fetch, as `liveset call` uses), with no argument parsing or modules of its own.
 */
const url = process.argv[2] ?? 'http://127.0.0.1:8000/';
const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"command":"version-get"}' });
process.stdout.write(`${JSON.stringify(await res.json(), null, 2)}\n`);
