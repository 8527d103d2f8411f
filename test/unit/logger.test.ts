import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/core/logger.ts';

/** A destination that keeps the lines written to it. */
function lines(): { stream: Writable & { write(chunk: string): boolean }; read(): Record<string, unknown>[] } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, read: () => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

test('on a terminal without pino-pretty installed (no dev dependencies), the logger writes JSON lines and says why', async () => {
  const out = lines();
  const logger = createLogger({
    name: 'server1', level: 'info', pretty: true, destination: out.stream,
    resolveModule: (name) => {
      throw Object.assign(new Error(`Cannot find module '${name}'`), { code: 'MODULE_NOT_FOUND' });
    },
  });
  logger.info({ msgId: 'CORE_LISTENING' }, 'listening');
  await new Promise((r) => setImmediate(r));
  const got = out.read();
  assert.deepEqual(got.map((l) => l['msgId']), ['CORE_LOG_PRETTY_UNAVAILABLE', 'CORE_LISTENING']);
  assert.equal(got[1]?.['name'], 'server1');
});

test('JSON lines when not asked for pretty output', async () => {
  const out = lines();
  const logger = createLogger({ name: 'x', level: 'warn', pretty: false, destination: out.stream });
  logger.info('hidden');
  logger.warn({ msgId: 'SOMETHING' }, 'shown');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(out.read().map((l) => l['msgId']), ['SOMETHING']);
});
