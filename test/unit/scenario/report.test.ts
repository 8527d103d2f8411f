import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { focus, formatStep, junitXml, sideBySide } from '../../../src/cli/scenario/report.ts';
import type { ScenarioResult, StepResult } from '../../../src/cli/scenario/runner.ts';

const failedStep: StepResult = {
  index: 2,
  name: 'continue <server1> & "go"',
  action: 'send',
  line: 7,
  servers: ['server1'],
  status: 'failed',
  startedMs: 10,
  durationMs: 5,
  message: 'answer does not match at text: not equal',
  expected: { result: 0, text: 'HA state machine continues.' },
  actual: { result: 0, text: 'HA state machine is not paused.', arguments: { big: 'ignored' } },
};

describe('scenario reports', () => {
  it('narrows the actual answer to what the expectation names', () => {
    assert.deepEqual(focus({ a: { b: 1 } }, { a: { b: 2, c: 3 }, d: 4 }), { a: { b: 2 } });
    assert.deepEqual(focus([{ x: 1 }], [{ x: 1, y: 2 }]), [{ x: 1 }]);
    assert.deepEqual(focus({ s: { $contains: [1] } }, { s: [3, 1] }), { s: [3, 1] });
    assert.equal(focus({ a: 1 }, 'text'), 'text');
  });

  it('shows expected and actual side by side', () => {
    const lines = sideBySide(failedStep.expected, failedStep.actual);
    assert.match(lines[0] ?? '', /^expected\s+│ actual$/);
    assert.ok(lines.some((l) => /"text": "HA state machine continues\."\s+│ {3}"text": "HA state machine is not paused\."/.test(l)));
    assert.ok(!lines.some((l) => l.includes('ignored')));
  });

  it('prints a failed step with its message, line and comparison', () => {
    const out = formatStep(failedStep).join('\n');
    assert.match(out, /✗ {2}2 {2}continue <server1> & "go" \[server1\] {2}\(5 ms\)/);
    assert.match(out, /answer does not match at text: not equal \(step at line 7\)/);
  });

  it('writes escaped JUnit XML with failures, skips, set-up errors and logs', () => {
    const results: ScenarioResult[] = [
      {
        file: '/x/a.yaml',
        name: 'a & b',
        status: 'failed',
        durationMs: 1234,
        steps: [
          { ...failedStep, index: 1, status: 'passed', message: undefined } as StepResult,
          failedStep,
          { ...failedStep, index: 3, status: 'skipped' },
        ],
        servers: {},
        processes: [],
        logs: { server1: ['line <1>'] },
      },
      { file: '/x/b.yaml', name: 'b', status: 'failed', durationMs: 10, setupError: 'server1 exited with code 1 while starting', steps: [], servers: {}, processes: [], logs: {} },
    ];
    const xml = junitXml(results);
    assert.match(xml, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites name="liveset scenarios" tests="4" failures="1" errors="1" skipped="1"/);
    assert.match(xml, /<testsuite name="a &amp; b" file="\/x\/a.yaml" tests="3" failures="1" errors="0" skipped="1" time="1.23">/);
    assert.match(xml, /<testcase classname="a &amp; b" name="02 continue &lt;server1&gt; &amp; &quot;go&quot;" time="0.01" file="\/x\/a.yaml" line="7"><failure message="answer does not match at text: not equal" type="send">/);
    assert.match(xml, /name="03 [^"]*"[^>]*><skipped message="an earlier step failed"\/><\/testcase>/);
    assert.match(xml, /<system-out>server1 \| line &lt;1&gt;<\/system-out>/);
    assert.match(xml, /<testcase classname="b" name="00 set-up" time="0"><error message="server1 exited with code 1 while starting"\/><\/testcase>/);
    assert.equal((xml.match(/<testsuite /g) ?? []).length, 2);
  });
});
