// HA restarts on real processes (issue 13): a host holding VMs of every restart priority is killed -9
// while restarts are held back with pool.ha_prevent_restarts_for; once the hold ends, the protected
// VM runs on a survivor, the best-effort one after it, the unprotected one stays Halted, and a
// protected VM whose restart a library's `ha_vm_restart` callout refuses is reported
// (HA_PROTECTED_VM_RESTART_FAILED). The callout sees every restart with its priority.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../helpers/liveset.ts';
import { kea } from './pool-helpers.ts';
import { enableHa, haStatus, startHaPool, T_SECONDS } from './pool-ha-helpers.ts';

const T_MS = T_SECONDS * 1000;
const HOLD_S = 8;
const MiB = 1024 * 1024;

test('HA restarts: held back, then protected before best-effort, unprotected left Halted, a refused restart reported', { timeout: 240_000 }, async (t) => {
  const pool = await startHaPool(3, { libraries: [{ library: 'restart-audit-library.mjs', parameters: { refuse: 'refused' } }] });
  t.after(() => pool.stopAll());
  const m1 = pool.url('host1');
  const refs = await pool.refs('host1');
  await enableHa(pool);

  const vms: Record<string, string> = {};
  for (const [name, priority] of [['protected', 'restart'], ['refused', 'restart'], ['best', 'best-effort'], ['plain', '']] as const) {
    const created = await kea(m1, 'VM.create', { args: { name_label: name, memory_static_max: 256 * MiB, ha_restart_priority: priority } });
    assert.equal(created.result, 0, created.text);
    vms[name] = created.arguments as string;
    assert.equal((await kea(m1, 'VM.start_on', { vm: vms[name], host: refs['host3'], start_paused: false })).result, 0);
  }
  const record = async (name: string) => (await kea(m1, 'VM.get_record', { self: vms[name] })).arguments as { power_state: string; resident_on: string };
  const runningOnSurvivor = async (name: string) => {
    const r = await record(name);
    return r.power_state === 'Running' && (r.resident_on === refs['host1'] || r.resident_on === refs['host2']);
  };

  assert.equal((await kea(m1, 'pool.ha_prevent_restarts_for', { seconds: HOLD_S })).result, 0);
  const heldAt = Date.now();
  await pool.hosts.get('host3')!.kill();
  await waitFor(async () => !((await haStatus(pool, 'host1'))?.['liveset'] as string[]).includes('host3'), { timeoutMs: T_MS + 10_000, what: 'host3 out of the liveset' });

  // While the hold lasts, nothing is restarted (checked until a second before it ends).
  while (Date.now() < heldAt + (HOLD_S - 1) * 1000) {
    assert.equal(await runningOnSurvivor('protected'), false, 'no restart while ha_prevent_restarts_for holds');
    await new Promise((r) => setTimeout(r, 250));
  }

  // Then the protected VM runs on a survivor (within the monitor's period after the hold), the
  // best-effort one too, and never before it.
  await waitFor(() => runningOnSurvivor('protected'), { timeoutMs: 30_000, intervalMs: 200, what: 'the protected VM running on a survivor' });
  await waitFor(() => runningOnSurvivor('best'), { timeoutMs: 30_000, intervalMs: 200, what: 'the best-effort VM running on a survivor' });
  const master = pool.hosts.get('host1')!.logs();
  const restartedAt = (name: string) => master.split('\n').findIndex((l) => l.includes('"msgId":"HA_VM_RESTARTED"') && l.includes(`"vm":"${vms[name]}"`));
  assert.ok(restartedAt('protected') >= 0 && restartedAt('best') > restartedAt('protected'), 'best-effort restarts come after the protected ones');

  // The unprotected VM is not restarted; the refused one is reported as a failed protected restart.
  await waitFor(() => /"msgId":"HA_PROTECTED_VM_RESTART_FAILED"/.test(pool.hosts.get('host1')!.logs()), { timeoutMs: 30_000, what: 'HA_PROTECTED_VM_RESTART_FAILED' });
  assert.match(pool.hosts.get('host1')!.logs(), new RegExp(`"msgId":"HA_PROTECTED_VM_RESTART_FAILED","vm":"${vms['refused']}"`));
  assert.notEqual((await record('refused')).power_state, 'Running');
  assert.notEqual((await record('plain')).power_state, 'Running', 'an unprotected VM stays down');

  // The callout saw every restart attempt, with its priority; never the unprotected VM.
  const audits = pool.hosts.get('host1')!.logs().split('\n').filter((l) => l.includes('"msgId":"RESTART_AUDIT"')).map((l) => JSON.parse(l) as { name_label: string; priority: string; refused: boolean });
  const seen = new Map(audits.map((a) => [a.name_label, a]));
  assert.equal(seen.get('protected')?.priority, 'restart');
  assert.equal(seen.get('best')?.priority, 'best-effort');
  assert.equal(seen.get('refused')?.refused, true);
  assert.equal(seen.has('plain'), false);
});
