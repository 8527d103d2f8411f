import { keaCommand } from '../test/helpers/liveset.ts';
import type { Member } from './cluster.ts';

/**
 * Client load: HA queries to both servers, and VM creation on the pool's master (following
 * HOST_IS_SLAVE like a XenAPI client). Acknowledged VMs are remembered for the lost-write check.
 */
export class Load {
  readonly acked: string[] = [];
  requests = 0;
  errors = 0;
  private made = 0;
  private believed = 'host1';

  constructor(private readonly members: readonly Member[]) {}

  private member(name: string): Member | undefined {
    return this.members.find((m) => m.name === name);
  }

  async haQuery(): Promise<void> {
    const ha = this.members.filter((m) => m.cluster === 'ha' && !m.down);
    const m = ha[this.requests % Math.max(1, ha.length)];
    if (m === undefined) return;
    this.requests++;
    const a = await keaCommand(m.proc.url, 'ha-query', { key: `client-${this.requests}` }, { timeoutMs: 5000 }).catch(() => undefined);
    if (a?.result !== 0) this.errors++;
  }

  async createVm(): Promise<void> {
    const name = `soak-vm-${++this.made}`;
    for (let hop = 0; hop < 2; hop++) {
      const m = this.member(this.believed);
      if (m === undefined || m.down) return this.rotate();
      this.requests++;
      const a = await keaCommand(m.proc.url, 'VM.create', { args: { name_label: name, memory_static_max: 1 } }, { timeoutMs: 10_000, errorDetail: true }).catch(() => undefined);
      if (a?.result === 0) {
        this.acked.push(name);
        return;
      }
      this.errors++;
      if (a?.error !== 'HOST_IS_SLAVE') return a === undefined ? this.rotate() : undefined;
      const next = this.members.find((x) => x.cluster === 'pool' && x.proc.url.includes(String(a.params?.[0] ?? '-')));
      if (next === undefined) return;
      this.believed = next.name;
    }
  }

  /** The believed master does not answer: try another host (it will redirect). */
  private rotate(): void {
    const pool = this.members.filter((m) => m.cluster === 'pool' && !m.down);
    const i = pool.findIndex((m) => m.name === this.believed);
    this.believed = pool[(i + 1) % pool.length]?.name ?? this.believed;
  }
}
