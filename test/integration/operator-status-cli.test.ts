// `liveset status` against a real pair: one picture with --once, and a live view that follows a kill -9.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cliArgs } from '../../src/cli/runtime-info.ts';
import { waitFor } from '../helpers/liveset.ts';
import { OPERATOR, startPair, untilLoadBalancing } from './operator-support.ts';

const statusArgs = (url: string, ...extra: string[]) => cliArgs(['status', '--url', url, '--user', OPERATOR.user, '--password', OPERATOR.password, ...extra]);

test('liveset status: --once prints both servers; the live view redraws when the partner dies', { timeout: 300_000 }, async (t) => {
  const pair = await startPair();
  t.after(() => pair.stopAll());
  await untilLoadBalancing(pair);
  const url = pair.server('server1').url;

  const once = spawn(process.execPath, statusArgs(url, '--once'), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  t.after(() => once.kill('SIGKILL'));
  let out = '';
  once.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise((resolve) => once.once('exit', resolve));
  assert.equal(code, 0, out);
  assert.match(out, /^server1 \(this server\) .* up$/m);
  assert.match(out, /^server2 .* up$/m);
  assert.match(out, /ha load-balancing: load-balancing {2}scopes=server1/);
  assert.match(out, /partner server2: load-balancing {2}heartbeat age=\d+s {2}clock skew=\d+s/);

  const wrong = spawn(process.execPath, cliArgs(['status', '--url', url, '--once']), { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => wrong.kill('SIGKILL'));
  let err = '';
  wrong.stderr.on('data', (d: Buffer) => (err += d.toString()));
  assert.equal(await new Promise((resolve) => wrong.once('exit', resolve)), 10, 'no credentials: no picture');
  assert.match(err, /HTTP 401/);

  const live = spawn(process.execPath, statusArgs(url, '--interval', '500'), { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => live.kill('SIGKILL'));
  let view = '';
  live.stdout.on('data', (d: Buffer) => (view += d.toString()));
  await waitFor(() => view.includes('partner server2: load-balancing'), { timeoutMs: 20_000, what: 'the first picture' });
  await pair.server('server2').kill();
  await waitFor(() => /ha load-balancing: partner-down PAUSED in partner-down/.test(view) && /^server2 .* unreachable$/m.test(view), { timeoutMs: 20_000, what: 'partner-down in the live view' });
  live.kill('SIGTERM');
  assert.equal(await new Promise((resolve) => live.once('exit', resolve)), 0);
});
