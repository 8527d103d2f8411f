import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { dirname } from 'node:path';
import { freePorts, keaCommand, startLiveset } from '../helpers/liveset.ts';

const slowPath = fileURLToPath(new URL('../fixtures/slow-library.mjs', import.meta.url));

test('SIGTERM stops listening but lets in-flight commands finish, then exits 0', async () => {
  const [port] = await freePorts(1);
  const s = await startLiveset({
    config: { server: { listen: `http://127.0.0.1:${port}/`, 'hooks-directory': dirname(slowPath) }, logging: { level: 'info' }, 'hooks-libraries': [{ library: slowPath }] },
  });
  try {
    const inFlight = keaCommand(s.url, 'slow', { ms: 1500 });
    await new Promise((r) => setTimeout(r, 300));
    const stopped = s.stop();
    await new Promise((r) => setTimeout(r, 200));
    await assert.rejects(fetch(s.url, { method: 'POST', body: '{}' }), 'no new connections while draining');
    assert.deepEqual(await inFlight, { result: 0, text: 'slept 1500 ms' });
    assert.equal(await stopped, 0);
    assert.match(s.logs(), /"msgId":"CORE_LIBRARY_UNLOADED","library":"slow"/);
  } finally {
    await s.stop();
  }
});
