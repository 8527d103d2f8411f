import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario, parseDuration, ScenarioError } from '../../../src/cli/scenario/load-scenario.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const members = [
  { name: 'server1', url: 'http://127.0.0.1:18201/' },
  { name: 'server2', url: 'http://127.0.0.1:18202/' },
];
const clustersAsked: string[] = [];
const readCluster = async (path: string) => {
  clustersAsked.push(path);
  return members;
};

async function load(text: string, name = 'scenario.yaml') {
  const dir = await mkdtemp(join(tmpdir(), 'liveset-scenario-load-'));
  dirs.push(dir);
  const file = join(dir, name);
  await writeFile(file, text);
  return { file, result: loadScenario(file, readCluster) };
}

async function problemsOf(text: string): Promise<string[]> {
  const { result } = await load(text);
  const err = await result.then(
    () => assert.fail('expected the scenario to be refused'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ScenarioError);
  return err.problems.map((p) => p.replace(/^.*scenario\.yaml:/, ''));
}

describe('scenario loading', () => {
  it('resolves the cluster relative to the file and fills in defaults', async () => {
    const { file, result } = await load(`
name: ok
cluster: clusters/pair.yaml
start: [server1]
timeout: 2s
steps:
  - send: { server: server1, command: status-get }
  - wait-until: { server: server2, command: status-get, via: jsonrpc, match: { result: {} }, interval: 50ms }
    timeout: 1.5s
  - partition: { groups: [[server1], [server2]] }
  - partition: { server: server1, peers: [server2], direction: in }
  - kill: [server1, server2]
  - sleep: 250
`);
    const s = await result;
    assert.equal(clustersAsked.at(-1), join(file, '..', 'clusters', 'pair.yaml'));
    assert.deepEqual(s.start, ['server1']);
    assert.equal(s.startupTimeoutMs, 20_000);
    assert.deepEqual(s.steps.map((x) => x.timeoutMs), [2000, 1500, 2000, 2000, 2000, 2000]);
    assert.deepEqual(s.steps.map((x) => x.line), [7, 8, 10, 11, 12, 13]);
    assert.deepEqual(s.steps[0]?.action, { kind: 'send', request: { server: 'server1', command: 'status-get', via: 'kea' } });
    assert.equal(s.steps[1]?.action.kind === 'wait-until' && s.steps[1].action.intervalMs, 50);
    assert.deepEqual(s.steps[2]?.action.kind === 'partition' && s.steps[2].action.cuts, [
      { server: 'server1', peers: ['server2'], direction: 'both' },
      { server: 'server2', peers: ['server1'], direction: 'both' },
    ]);
    assert.equal(s.steps[2]?.name, 'partition server1 | server2');
    assert.equal(s.steps[4]?.name, 'kill server1, server2');
    assert.deepEqual(s.steps[5]?.action, { kind: 'sleep', ms: 250 });
  });

  it('reports every problem at once with line, column and path', async () => {
    const problems = await problemsOf(`
name: bad
cluster: pair.yaml
timeout: 10 seconds
steps:
  - send: { server: server3, command: ha-continue }
  - kill: server1
    sleep: 1s
  - wait-until: { server: server1, command: status-get }
  - send: { server: server1, command: x, arguments: { a: "\${server9.url}" } }
    expct: { result: 0 }
  - send: { server: server1, command: x, params: [1] }
`);
    assert.deepEqual(problems, [
      '4:10: timeout: must be a duration such as 500ms, 2s or 1m, or a number of milliseconds',
      "6:21: steps[0].send.server: unknown server 'server3' (known: server1, server2)",
      '7:5: steps[1]: a step has exactly one action, this one has kill and sleep',
      '9:17: steps[2].wait-until.match: is required',
      "10:58: steps[3].send.arguments.a: \${server9.url}: unknown server 'server9'",
      '11:5: steps[3].expct: is not a known key',
      '12:50: steps[4].send.params: `params` are for via xenapi; via kea takes `arguments`',
    ]);
  });

  it('knows saved variables only from the step that saves them on', async () => {
    const problems = await problemsOf(`
name: vars
servers: { remote1: { url: "http://127.0.0.1:9/" } }
variables: { key: abc }
steps:
  - send: { server: remote1, command: a, arguments: { k: "\${vars.key}", early: "\${vars.ref}" } }
  - send: { server: remote1, command: b }
    save: { ref: arguments.ref }
  - send: { server: remote1, command: c, arguments: { ref: "\${vars.ref}" } }
  - stop: remote1
`);
    assert.deepEqual(problems, [
      "6:80: steps[0].send.arguments.early: \${vars.ref}: no variable 'ref' in `variables` or saved by an earlier step",
      "10:11: steps[3].stop: 'remote1' was not started by this scenario, so it cannot be killed, stopped or started",
    ]);
  });

  it('needs a cluster or servers, and reports YAML syntax errors', async () => {
    assert.deepEqual(await problemsOf('name: x\nsteps:\n  - sleep: 1s\n'), [
      '1:1: (top level): needs `cluster` (a cluster file to start) or `servers` (servers already running)',
    ]);
    const syntax = await problemsOf('name: x\nsteps: [\n');
    assert.equal(syntax.length, 1);
    assert.match(syntax[0] ?? '', /Flow sequence/);
  });

  it('parses durations', () => {
    assert.equal(parseDuration('250ms', 0), 250);
    assert.equal(parseDuration('1.5s', 0), 1500);
    assert.equal(parseDuration('2m', 0), 120_000);
    assert.equal(parseDuration(42, 0), 42);
    assert.equal(parseDuration(undefined, 7), 7);
  });
});
