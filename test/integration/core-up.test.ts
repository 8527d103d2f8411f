import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts, keaCommand, waitFor } from '../helpers/liveset.ts';
import { cliArgs } from '../../src/cli/runtime-info.ts';

test('liveset up starts every member with prefixed logs and stops them all on SIGTERM', async () => {
  const [p1, p2] = await freePorts(2);
  const dir = mkdtempSync(join(tmpdir(), 'liveset-up-'));
  const file = join(dir, 'pair.yaml');
  writeFileSync(
    file,
    [
      `server: { data-dir: "${dir}/\${server}" }`,
      'logging: { level: info }',
      'hooks-libraries:',
      '  - library: ha',
      '    parameters:',
      '      high-availability:',
      '        - mode: hot-standby',
      '          heartbeat-delay: 200',
      '          max-response-delay: 600',
      '          peers:',
      `            - { name: alpha, url: "http://127.0.0.1:${p1}/", role: primary }`,
      `            - { name: beta, url: "http://127.0.0.1:${p2}/", role: standby }`,
    ].join('\n'),
  );
  const up = spawn(process.execPath, cliArgs(['up', '-c', file]), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  up.stdout.on('data', (d: Buffer) => (out += d.toString()));
  up.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => up.once('exit', (code) => resolve(code)));
  try {
    const urls = [`http://127.0.0.1:${p1}/`, `http://127.0.0.1:${p2}/`];
    const states = await waitFor(
      async () => {
        const s = await Promise.all(urls.map(async (u) => (await keaCommand(u, 'status-get')).arguments['high-availability'][0]['ha-servers'].local.state));
        return s[0] === 'hot-standby' && s[1] === 'hot-standby' ? s : undefined;
      },
      { timeoutMs: 60_000, what: 'both members in hot-standby' },
    );
    assert.deepEqual(states, ['hot-standby', 'hot-standby']);
    assert.match(out, /^alpha \| \{.*"msgId":"CORE_LISTENING"/m);
    assert.match(out, /^beta  \| \{.*"msgId":"CORE_LISTENING"/m);
    up.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.match(out, /^alpha \| exited \(code 0\)$/m);
    assert.match(out, /^beta  \| exited \(code 0\)$/m);
    for (const u of urls) await assert.rejects(fetch(u, { method: 'POST' }), `${u} no longer listens`);
  } finally {
    // SIGTERM (not SIGKILL) so that `up` stops the children it started before exiting.
    if (up.exitCode === null) up.kill('SIGTERM');
    await exited;
  }
});
