import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FuzzTarget } from './fuzz-target.ts';
import { fuzzInputs, loadCommandSchemas } from './inputs.ts';
import { describeFinding } from './fuzz-run.ts';

/**
 * Schema-driven fuzzing against a real server on every wire (the long run is
 * `npm run bench -- --fuzz 100000`). A failure prints fast-check's seed and the shrunk input.
 */
test('fuzz: 2000 valid, near-valid and invalid inputs over Kea, JSON-RPC HTTP/WebSocket and XenAPI positional calls', { timeout: 900_000 }, async (t) => {
  const target = await FuzzTarget.start();
  t.after(() => target.stop());
  const arb = fuzzInputs(loadCommandSchemas(), target.vocab, target.session);
  await fc.assert(
    fc.asyncProperty(arb, async (input) => {
      const problems = await target.check(input);
      assert.deepEqual(problems.map((problem) => describeFinding({ problem, input })), []);
    }),
    { numRuns: 2000 },
  );
  const s = target.stats;
  // Not vacuous: every wire and kind was exercised, and the server both accepted and refused.
  for (const wire of ['kea', 'jsonrpc-http', 'jsonrpc-ws', 'xenapi']) assert.ok((s.byWire[wire] ?? 0) > 50, `${wire}: ${s.byWire[wire]}`);
  for (const kind of ['valid', 'near-valid', 'invalid']) assert.ok((s.byKind[kind] ?? 0) > 300, `${kind}: ${s.byKind[kind]}`);
  assert.ok(s.accepted > 20 && s.rejected > 500, JSON.stringify(s));
});
