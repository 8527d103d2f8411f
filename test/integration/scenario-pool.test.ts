import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runExample } from './scenario-cli.ts';

/** The HA scenarios take their statefile directory from LIVESET_HA_SR_DIR (inherited by the CLI). */
function withStatefileDir(t: { after(fn: () => void): void }): void {
  const dir = mkdtempSync(join(tmpdir(), 'liveset-ha-sr-'));
  process.env['LIVESET_HA_SR_DIR'] = dir;
  t.after(() => {
    delete process.env['LIVESET_HA_SR_DIR'];
    rmSync(dir, { recursive: true, force: true });
  });
}

describe('example pool scenarios through `liveset scenario`', () => {
  it('designated master change', (t) => runExample(t, 'pool-master-change.yaml'));
  it('a slave goes offline and comes back', (t) => runExample(t, 'pool-slave-offline.yaml'));
  it('HA: the master is killed, a survivor takes over', (t) => {
    withStatefileDir(t);
    return runExample(t, 'pool-ha-failover.yaml');
  });
  it('HA: a dead host\'s protected VM is restarted, then the best-effort one; the unprotected one stays down', (t) => {
    withStatefileDir(t);
    return runExample(t, 'pool-ha-restart.yaml');
  });
  it('HA: a host partitioned from two fences itself', (t) => {
    withStatefileDir(t);
    return runExample(t, 'pool-ha-fence.yaml');
  });
});
