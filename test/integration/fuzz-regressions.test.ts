// What `npm run bench -- --fuzz 100000` found, each kept as a regression test on a real server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FuzzTarget } from '../fuzz/fuzz-target.ts';
import { freePorts, keaCommand, startLiveset, waitFor } from '../helpers/liveset.ts';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

test('fuzz seed 7, input ~50,000: pool.ha_prevent_restarts_for with 2^53 - 1 seconds is refused by the schema and status-get keeps working', { timeout: 120_000 }, async (t) => {
  const target = await FuzzTarget.start();
  t.after(() => target.stop());
  const huge = await keaCommand(target.url, 'pool.ha_prevent_restarts_for', { seconds: Number.MAX_SAFE_INTEGER });
  assert.notEqual(huge.result, 0);
  assert.match(huge.text ?? '', /seconds/);
  assert.equal((await keaCommand(target.url, 'status-get')).result, 0);
  // The longest hold allowed is a date status can still show.
  assert.equal((await keaCommand(target.url, 'pool.ha_prevent_restarts_for', { seconds: 3_153_600_000 })).result, 0);
  const status = await keaCommand(target.url, 'status-get');
  assert.equal(status.result, 0, status.text);
  const held = Date.parse(status.arguments['pool']['planner']['restarts_held_until']);
  assert.ok(held > Date.now() + 99 * 365 * 86_400_000, String(status.arguments['pool']['planner']['restarts_held_until']));
  assert.equal((await keaCommand(target.url, 'pool.ha_prevent_restarts_for', { seconds: 0 })).result, 0);
});

test('a library whose status section throws: status-get still answers, that section names the error, and it is logged', { timeout: 60_000 }, async (t) => {
  const [port] = await freePorts(1);
  const server = await startLiveset({
    config: {
      server: { listen: `http://127.0.0.1:${port}/`, 'hooks-directory': FIXTURES },
      logging: { level: 'info', format: 'json' },
      'hooks-libraries': [{ library: join(FIXTURES, 'broken-status-library.mjs') }],
    },
  });
  t.after(() => server.stop());
  const status = await keaCommand(server.url, 'status-get');
  assert.equal(status.result, 0, status.text);
  assert.equal(typeof status.arguments['pid'], 'number');
  assert.deepEqual(status.arguments['broken'], { error: 'status of broken failed: Invalid time value' });
  // The child's log reaches us through a pipe, possibly after the answer: wait for the line.
  await waitFor(() => /"msgId":"CORE_STATUS_SECTION_FAILED"[^\n]*"section":"broken"/.test(server.logs()), { timeoutMs: 10_000, what: 'CORE_STATUS_SECTION_FAILED logged' });
});
