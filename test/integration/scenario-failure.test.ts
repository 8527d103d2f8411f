import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { example, killAll, runScenarioCli, survivors, trace } from './scenario-cli.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function scenarioFile(text: string): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'liveset-scenario-test-'));
  dirs.push(dir);
  const file = join(dir, 'scenario.yaml');
  await writeFile(file, text);
  return { dir, file };
}

const cluster = example('clusters/ha-pair-cluster.yaml');

describe('liveset scenario: failures, interrupts and bad files', () => {
  it('reports a failing expectation side by side with the logs, exits 1 and leaves no process', async (t) => {
    const { dir, file } = await scenarioFile(`
name: a wrong expectation
cluster: ${cluster}
steps:
  - send: { server: server1, command: version-get }
    expect: { result: 0 }
  - name: expects the wrong result
    send: { server: server1, command: ha-continue }
    expect: { result: 0, text: "/^this is not what it says/" }
  - send: { server: server2, command: version-get }
`);
    const junit = join(dir, 'report.xml');
    const run = runScenarioCli([file, '--free-ports', '--json', '--junit', junit]);
    t.after(() => run.child.kill('SIGKILL'));
    const { code, stdout, stderr } = await run.done;
    const result = trace(stdout);
    t.after(() => killAll(result));
    assert.equal(code, 1);
    assert.equal(result.passed, false);
    const steps = result.scenarios[0]?.steps ?? [];
    assert.deepEqual(steps.map((s) => s.status), ['passed', 'failed', 'skipped']);
    assert.equal(steps[1]?.mismatch?.path, 'text');
    assert.match(stderr, /✗ {2}2 {2}expects the wrong result \[server1\]/);
    assert.match(stderr, /answer does not match at text: does not match \/\^this is not what it says\/ \(step at line 7\)/);
    assert.match(stderr, /expected\s+│ actual/);
    assert.match(stderr, /"text": "\/\^this is not what it says\/"\s+│ {3}"text": "HA state machine is not paused\."/);
    assert.match(stderr, /--- last \d+ log lines of server1 ---/);
    assert.match(stderr, /FAILED: 1 passed, 1 failed, 1 skipped/);
    const xml = await readFile(junit, 'utf8');
    assert.match(xml, /<testsuite name="a wrong expectation"[^>]* tests="3" failures="1" errors="0" skipped="1"/);
    assert.match(xml, /<failure message="answer does not match at text/);
    assert.deepEqual(survivors(result), []);
  });

  it('stops every server it started on SIGINT and exits 130', async (t) => {
    const { file } = await scenarioFile(`
name: interrupted
cluster: ${cluster}
timeout: 120s
steps:
  - send: { server: server1, command: version-get }
  - name: a long wait that SIGINT cuts short
    sleep: 100s
  - send: { server: server2, command: version-get }
`);
    const run = runScenarioCli([file, '--free-ports', '--json']);
    t.after(() => run.child.kill('SIGKILL'));
    await run.waitForOutput(/✓ {2}1 {2}send version-get/);
    run.child.kill('SIGINT');
    const { code, stdout, stderr } = await run.done;
    const result = trace(stdout);
    t.after(() => killAll(result));
    assert.equal(code, 130, stderr);
    assert.match(stderr, /SIGINT: stopping the scenario and every server it started/);
    const scenario = result.scenarios[0];
    assert.equal(scenario?.status, 'interrupted');
    assert.deepEqual(scenario?.steps.map((s) => s.status), ['passed', 'failed', 'skipped']);
    assert.equal(scenario?.processes.length, 2);
    assert.deepEqual(survivors(result), []);
  });

  it('refuses an invalid file with every problem and its line, starting nothing', async () => {
    const { file } = await scenarioFile(`
name: invalid
cluster: ${cluster}
steps:
  - send: { server: server7, command: status-get }
  - sleep: forever
`);
    const { code, stdout, stderr } = await runScenarioCli([file, '--json']).done;
    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.match(stderr, /scenario\.yaml:5:21: steps\[0\]\.send\.server: unknown server 'server7' \(known: server1, server2\)/);
    assert.match(stderr, /scenario\.yaml:6:12: steps\[1\]\.sleep: must be a duration/);
  });
});
