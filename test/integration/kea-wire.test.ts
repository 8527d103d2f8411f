// The Kea control channel, byte for byte, against a real load-balancing pair on 127.0.0.1: raw HTTP
// and the real kea-shell (Kea 2.2.0, /usr/sbin/kea-shell). Expected bytes are Kea 2.2's
// (tag Kea-2.2.0); each assertion says which source gives them. Kea writes JSON with
// Element::toJSON (src/lib/cc/data.cc), re-implemented independently in test/helpers/kea-reference.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { keaCommand, waitFor } from '../helpers/liveset.ts';
import { keaReference, keaStatusProblems } from '../helpers/kea-reference.ts';
import { haStatus, startHa, waitState, type HaCluster } from './ha-support.ts';

/** Per test: every test in this file stops well within it. */
const TIMEOUT = 120_000;

const KEA_SHELL = '/usr/sbin/kea-shell';
let ha: HaCluster;

before(async () => {
  // max-unacked-clients 5: accepted (it is Kea's), ignored with a warning.
  ha = await startHa({ mode: 'load-balancing', relationship: { 'max-unacked-clients': 5 } });
  await waitState([ha.server('server1'), ha.server('server2')], 'load-balancing', { timeoutMs: 60_000 });
}, { timeout: TIMEOUT });
after(() => ha.stopAll());

function post(url: string, body: string): Promise<{ status: number; type: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function keaShell(url: string, args: string[], stdin = ''): Promise<{ code: number; stdout: string }> {
  const port = new URL(url).port;
  return new Promise((resolve, reject) => {
    const child = execFile(KEA_SHELL, ['--host', '127.0.0.1', '--port', port, '--timeout', '20', ...args], { timeout: 30_000 }, (err, stdout) => {
      if (err && typeof err.code !== 'number') return reject(err);
      resolve({ code: typeof err?.code === 'number' ? err.code : 0, stdout });
    });
    child.stdin?.end(stdin);
  });
}

test('unknown command, an error, the empty body, malformed JSON: Kea 2.2\'s exact bytes', { timeout: TIMEOUT }, async () => {
  const url = ha.server('server1').url;
  // BaseCommandMgr::handleCommand: result 2, "'<name>' command not supported." (base_command_mgr.cc);
  // the agent wraps a single answer in a list (CtrlAgentCommandMgr::processCommand).
  const unknown = await post(url, '{ "command": "foo-bar", "service": [ "liveset" ] }');
  assert.equal(unknown.status, 200);
  assert.equal(unknown.type, 'application/json');
  assert.equal(unknown.body, `[ { "result": 2, "text": "'foo-bar' command not supported." } ]`);
  // An error answer (result 1, text, no arguments): CtrlAgentCommandMgr::handleCommand for a
  // `service` that is not a list.
  const error = await post(url, '{"command":"status-get","service":"liveset"}');
  assert.equal(error.body, '[ { "result": 1, "text": "service value must be a list" } ]');
  // An empty body: PostHttpRequestJson leaves the command null, processCommand answers it; HTTP 200.
  const empty = await post(url, '');
  assert.equal(empty.status, 200);
  assert.equal(empty.body, '[ { "result": 1, "text": "Command processing failed: NULL command parameter" } ]');
  // parseCommand's texts behind processCommand's prefix (command_interpreter.cc, base_command_mgr.cc).
  assert.equal((await post(url, '{"arguments":{}}')).body, `[ { "result": 1, "text": "Error during command processing: Invalid answer specified, does not contain mandatory 'command'" } ]`);
  // Unparseable: the HTTP layer's stock 400, a bare map (response_json.cc setGenericBody).
  const bad = await post(url, '{"command":');
  assert.equal(bad.status, 400);
  assert.equal(bad.body, '{ "result": 400, "text": "Bad Request" }');
});

test('arguments that are not a map: commands that take none ignore them, the others refuse (Kea 2.2 handlers)', { timeout: TIMEOUT }, async () => {
  const url = ha.server('server1').url;
  const list = JSON.parse((await post(url, '{"command":"list-commands","arguments":"x"}')).body);
  assert.equal(list[0].result, 0);
  // ha_impl.cc scopesHandler: "arguments in the 'ha-scopes' command are not a map"
  assert.equal((await post(url, '{"command":"ha-scopes","arguments":[1]}')).body, `[ { "result": 1, "text": "arguments in the 'ha-scopes' command are not a map" } ]`);
});

test('list-commands, version-get, ha-heartbeat and status-get: Kea\'s layout and keys (values aside)', { timeout: TIMEOUT }, async () => {
  const url = ha.server('server1').url;
  // listCommandsHandler: createAnswer(0, list) — no text; names sorted (std::map of handlers).
  const list = await post(url, '{"command":"list-commands"}');
  const names = JSON.parse(list.body)[0].arguments as string[];
  assert.deepEqual(names, [...names].sort());
  assert.ok(!names.includes('fault-partition') && !names.includes('fault-heal'), 'fault injection is off: its commands are not listed');
  assert.equal(list.body, `[ { "arguments": [ ${names.map((n) => `"${n}"`).join(', ')} ], "result": 0 } ]`);
  // commandVersionGetHandler: text = short version, arguments.extended = extended version.
  const version = await post(url, '{"command":"version-get"}');
  const v = JSON.parse(version.body)[0];
  assert.equal(version.body, `[ { "arguments": { "extended": ${keaReference(v.arguments.extended)} }, "result": 0, "text": ${keaReference(v.text)} } ]`);
  // HAService::processHeartbeat: date-time, scopes, state, unsent-update-count; "HA peer status returned."
  const hb = await post(url, '{"command":"ha-heartbeat","service":["liveset"]}');
  const h = JSON.parse(hb.body)[0];
  assert.equal(
    hb.body,
    `[ { "arguments": { "date-time": "${h.arguments['date-time']}", "scopes": [ "server1" ], "state": "load-balancing", "unsent-update-count": 0 }, "result": 0, "text": "HA peer status returned." } ]`,
  );
  assert.match(h.arguments['date-time'], /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
  // status-get: createAnswer(0, status) — no text. Layout is Kea's for the whole (nested) answer.
  const st = await post(url, '{"command":"status-get"}');
  const s = JSON.parse(st.body);
  assert.equal(st.body, keaReference(s));
  assert.equal(s[0].text, undefined);
  assert.deepEqual(keaStatusProblems(s[0].arguments), []);
  assert.equal(s[0].arguments['multi-threading-enabled'], false);
  assert.deepEqual(s[0].arguments.sockets, { status: 'ready' });
});

test('a multi-service request is answered once per service, in order', { timeout: TIMEOUT }, async () => {
  const url = ha.server('server1').url;
  const r = await post(url, '{"command":"ha-heartbeat","service":["liveset","foo"]}');
  const h = JSON.parse(r.body)[0];
  // CtrlAgentCommandMgr::handleCommand forwards per service; forwardCommand's text for an unknown one.
  assert.equal(
    r.body,
    `[ { "arguments": { "date-time": "${h.arguments['date-time']}", "scopes": [ "server1" ], "state": "load-balancing", "unsent-update-count": 0 }, "result": 0, "text": "HA peer status returned." }, ` +
      '{ "result": 1, "text": "forwarding socket is not configured for the server type foo" } ]',
  );
});

test('kea-shell prints the body as Kea formats it', { timeout: TIMEOUT, skip: existsSync(KEA_SHELL) ? false : `${KEA_SHELL} is not installed` }, async () => {
  const url = ha.server('server1').url;
  const list = await keaShell(url, ['list-commands'], '');
  assert.equal(list.code, 0);
  const names = JSON.parse(list.stdout)[0].arguments as string[];
  assert.equal(list.stdout, `[ { "arguments": [ ${names.map((n) => `"${n}"`).join(', ')} ], "result": 0 } ]\n`);
  const unknown = await keaShell(url, ['--service', 'liveset', 'foo-bar'], '');
  assert.equal(unknown.stdout, `[ { "result": 2, "text": "'foo-bar' command not supported." } ]\n`);
  const two = await keaShell(url, ['--service', 'liveset', '--service', 'dhcp4', 'ha-continue'], '"server-name": "server1"');
  assert.equal(two.stdout, '[ { "result": 0, "text": "HA state machine is not paused." }, { "result": 1, "text": "forwarding socket is not configured for the server type dhcp4" } ]\n');
  const status = await keaShell(url, ['status-get'], '');
  assert.equal(status.stdout, keaReference(JSON.parse(status.stdout)) + '\n');
  assert.match(status.stdout, /"result": 0/, 'what Kea\'s own test scripts grep for');
});

test('max-unacked-clients is accepted but warned about at start-up and in config-test', { timeout: TIMEOUT }, async () => {
  const s1 = ha.server('server1');
  assert.match(s1.logs(), /"msgId":"HA_MAX_UNACKED_CLIENTS_IGNORED"[^\n]*max-unacked-clients 5 is ignored/);
  const cfg = (await keaCommand(s1.url, 'config-get')).arguments as Record<string, unknown>;
  delete cfg['hash'];
  const t = await keaCommand(s1.url, 'config-test', cfg);
  assert.equal(t.result, 0);
  assert.match(t.text ?? '', /^Configuration seems sane\. Warnings: .*high-availability\[0\]\.max-unacked-clients: ha: max-unacked-clients 5 is ignored/);
});

test('transitions log Kea\'s text; a dead partner: heartbeat WARN, partner-down, status-get still Kea\'s keys', { timeout: TIMEOUT }, async () => {
  const [s1, s2] = [ha.server('server1'), ha.server('server2')];
  // ha_service.cc verboseTransition + ha_messages.mes HA_STATE_TRANSITION: upper-case labels.
  assert.match(s1.logs(), /"msg":"server1: server transitions from WAITING to (SYNCING|READY) state, partner state is [A-Z-]+"/);
  const lb = await haStatus(s1);
  assert.equal(lb.remote?.['unacked-clients-left'], 0);
  await s2.kill();
  await waitState([s1], 'partner-down', { timeoutMs: 30_000 });
  const down = await haStatus(s1); // checks Kea's keys and types, and no nulls
  assert.equal(down.remote?.['communication-interrupted'], true);
  assert.equal(down.remote?.['last-state'], 'unavailable');
  // Kea's formula with the limit liveset applies (0): max - unacked + 1 = 1 while interrupted.
  assert.equal(down.remote?.['unacked-clients-left'], 1);
  assert.equal(down.remote?.['clock-skew'], undefined, 'unknown: left out, not null');
  const logs = (await waitFor(() => (/HA_HEARTBEAT_COMMUNICATIONS_FAILED/.test(s1.logs()) ? s1.logs() : undefined), { timeoutMs: 10_000, what: 'the heartbeat warning' })) ?? '';
  assert.match(logs, /"level":40[^\n]*"msgId":"HA_HEARTBEAT_COMMUNICATIONS_FAILED"[^\n]*"msg":"server1: failed to send heartbeat to server2 \(http:\/\/127\.0\.0\.1:\d+\/\): /);
  // Kea's getStateLabel has no label for "unavailable": UNDEFINED.
  assert.match(logs, /"msg":"server1: server transitions from LOAD-BALANCING to [A-Z-]+ state, partner state is UNDEFINED"/);
});
