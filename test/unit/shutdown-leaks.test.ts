// After a library stops, nothing it started is left: no timer, no child process, no peer call.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../../src/core/clock.ts';
import type { LibraryHandle } from '../../src/core/hooks/hook-library.ts';
import { PeerUnreachableError } from '../../src/core/hooks/hook-library.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { HaService } from '../../src/hook-libs/ha/ha-service.ts';
import { config } from './ha/ha-fixtures.ts';
import { SimPool, poolParams, until } from './pool/sim-pool.ts';

/** Whether a process with this pid exists (signal 0 checks without sending anything). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

const count = (kind: string) => process.getActiveResourcesInfo().filter((r) => r === kind).length;

test('ha: stopping the service kills a notify script still running and leaves no timer behind', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'liveset-notify-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pidFile = join(dir, 'pid');
  const script = join(dir, 'notify.sh');
  // exec: the script's own pid becomes sleep's, so the process table shows exactly what we started.
  writeFileSync(script, `#!/bin/sh\necho $$ > ${pidFile}\nexec sleep 60\n`);
  chmodSync(script, 0o755);
  const timersBefore = count('Timeout');
  const handle = {
    parameters: {}, serverName: 'server1', selfUrl: '', configDir: dir, clock: systemClock, logger: silentLogger,
    stores: { open: () => Promise.reject(new Error('no stores')) },
    callPeer: async (peer: { name: string }) => {
      throw new PeerUnreachableError(peer.name, 'ECONNREFUSED');
    },
    registerCommand: () => undefined, registerCallout: () => undefined, registerStatus: () => undefined,
    runCallouts: async () => 'continue' as const, publish: () => undefined, dispatch: () => Promise.reject(new Error('unused')),
  } satisfies LibraryHandle;
  const service = new HaService(handle, { ...config(), notify: { script, timeoutMs: 60_000 } });
  t.after(() => service.stop());
  service.start();
  await until(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '', 20_000);
  const pid = Number(readFileSync(pidFile, 'utf8'));
  t.after(() => void (alive(pid) && process.kill(pid, 'SIGKILL')));
  assert.ok(alive(pid), 'the notify script runs');
  service.stop();
  await until(() => !alive(pid), 10_000).catch(() => assert.fail(`notify script ${pid} still in the process table after stop`));
  await until(() => count('ChildProcess') === 0 && count('Timeout') <= timersBefore, 10_000)
    .catch(() => assert.fail(`left behind: ${process.getActiveResourcesInfo().join(', ')}`));
});

test('pool: stopping a host cancels its pending timers (fault point, waits) and answers what waited on them', async (t) => {
  const sim = new SimPool(poolParams(), true);
  t.after(() => sim.stopAll());
  for (const n of sim.names) await sim.start(n);
  const svc = sim.services.get('host2')!;
  await sim.ok('host2', 'host.set_fault_point', { point: 'host-execute', delay: 600_000 });
  const waiting = sim.call('host2', 'host.local_execute', { op: 'host.get_servertime' });
  const change = svc.waitForChange(600_000);
  await until(() => svc.faultWaiting === 'host-execute');
  assert.ok(svc.pendingTimers >= 2, `the fault point and the wait hold timers (${svc.pendingTimers})`);
  await svc.stop();
  assert.equal(svc.pendingTimers, 0, 'every timer of the service is cancelled');
  await change;
  assert.equal((await waiting).result, 0, 'the call paused at the fault point is answered, not left hanging');
});
