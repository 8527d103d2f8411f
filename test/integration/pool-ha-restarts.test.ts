// HA restarts on real processes (issue 13): a host holding VMs of every restart priority is killed -9
// while restarts are held back with pool.ha_prevent_restarts_for; once the hold ends, the protected
// VM runs on a survivor, the best-effort one after it, the unprotected one stays Halted, and a
// protected VM whose restart a library's `ha_vm_restart` callout refuses is reported
// (HA_PROTECTED_VM_RESTART_FAILED). The callout sees every restart with its priority. Then admission
// control on the two survivors: a start that would leave no failover plan is refused, and allowed
// once overcommit is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../helpers/liveset.ts';
import { errorOf, kea } from './pool-helpers.ts';
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

  // ---- admission control with host3 down: two hosts of 8 GiB, tolerate one failure ----
  const poolRef = ((await kea(m1, 'pool.get_all')).arguments as string[])[0]!;
  assert.equal((await kea(m1, 'pool.set_ha_host_failures_to_tolerate', { self: poolRef, value: 1 })).result, 0);
  const GiB = 1024 * MiB;
  const big = async (name: string) => {
    const a = await kea(m1, 'VM.create', { args: { name_label: name, memory_static_max: 6 * GiB, ha_restart_priority: 'restart' } });
    assert.equal(a.result, 0, a.text);
    return a.arguments as string;
  };
  // 6 GiB on host1 is fine: host2 (at most 0.5 GiB in use) could take it over.
  const h1 = await big('big-1');
  assert.equal((await kea(m1, 'VM.start_on', { vm: h1, host: refs['host1'], start_paused: false })).result, 0);
  // 6 more on host2 fits in memory, but then neither host could take the other's: refused.
  const h2 = await big('big-2');
  assert.deepEqual(errorOf(await kea(m1, 'VM.start_on', { vm: h2, host: refs['host2'], start_paused: false })), { error: 'HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN', params: [] });
  assert.notEqual((await record('protected')).power_state, 'Halted', 'the refusal changed nothing');
  assert.equal(((await kea(m1, 'VM.get_record', { self: h2 })).arguments as { power_state: string }).power_state, 'Halted');
  // With overcommit allowed the operator may go ahead; the pool says it is overcommitted.
  assert.equal((await kea(m1, 'pool.set_ha_allow_overcommit', { self: poolRef, value: true })).result, 0);
  assert.equal((await kea(m1, 'VM.start_on', { vm: h2, host: refs['host2'], start_paused: false })).result, 0);
  await waitFor(async () => ((await kea(m1, 'pool.get_record', { self: poolRef })).arguments as { ha_overcommitted: boolean }).ha_overcommitted === true,
    { timeoutMs: 20_000, what: 'pool.ha_overcommitted' });
});
