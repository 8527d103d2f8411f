/** What `npm start` prints once the demo cluster is up: where it listens and what to try. */
export function demoBanner(members: readonly { name: string; url: string }[]): string {
  const first = members[0]?.url ?? 'http://127.0.0.1:8001/';
  const lines = [
    '',
    'liveset demo: a load-balancing HA pair that is also a two-host pool',
    ...members.map((m) => `  ${m.name.padEnd(8)} ${m.url}  (Kea: POST /, JSON-RPC: POST /jsonrpc, WebSocket: /ws)`),
    '',
    'try, in another terminal:',
    `  curl -s -H 'Content-Type: application/json' -d '{"command": "status-get"}' ${first}`,
    `  curl -s -H 'Content-Type: application/json' -d '{"jsonrpc": "2.0", "id": 1, "method": "ha-heartbeat"}' ${first}jsonrpc`,
    `  npm run -s liveset -- call status-get --url ${first}`,
    `  npm run -s liveset -- call ha-query --args '{"key": "client-42"}' --url ${first}`,
    `  npm run -s liveset -- call host_metrics.get_all_records --url ${first}`,
    `  kea-shell --host 127.0.0.1 --port ${new URL(first).port} --service liveset status-get </dev/null`,
    '  then stop one server (kill -9 its pid from status-get) and watch the other go to partner-down.',
    'Ctrl-C stops both.',
    '',
  ];
  return `${lines.join('\n')}\n`;
}
