import { startLiveset } from '../test/helpers/liveset.ts';
import { startServerScript } from './lib/children.ts';
import { bareConfig, haPairConfig } from './lib/configs.ts';
import { rssMiB } from './lib/proc.ts';
import { fmt, ratio, type Row, type SectionResult } from './lib/report.ts';

const mib = (x: number) => `${fmt(x, 1)} MiB`;

/**
 * Resident set size of idle servers beside an idle bare node:http server (both compiled JavaScript
 * run by plain Node.js), and of the loaded pool master measured by the
 * fan-in section beside the baseline that took the same load.
 */
export async function memory(settleMs: number, master: { rss: number; baseRss: number; hosts: number }): Promise<SectionResult> {
  const sleep = () => new Promise((r) => setTimeout(r, settleMs));
  const pair = await haPairConfig('load-balancing', 1000, 3000);
  const [base, core, ha1, ha2] = await Promise.all([
    startServerScript('baseline-http.ts', {}),
    bareConfig().then((config) => startLiveset({ config })),
    startLiveset({ config: pair, server: 'server1' }),
    startLiveset({ config: pair, server: 'server2' }),
  ]);
  let rows: Row[];
  try {
    await sleep();
    const b = rssMiB(base.child.pid!);
    const c = rssMiB(core.pid!);
    const h = rssMiB(ha1.pid!);
    rows = [
      { group: 'memory', what: 'RSS, idle server (core only, no hook library)', liveset: mib(c), baseline: `idle node:http: ${mib(b)}`, ratio: ratio(c, b, 'RSS') },
      { group: 'memory', what: 'RSS, idle HA server (load-balancing pair member, 1 s heartbeats)', liveset: mib(h), baseline: `idle node:http: ${mib(b)}`, ratio: ratio(h, b, 'RSS') },
      {
        group: 'memory',
        what: `RSS, pool master taking ${master.hosts} hosts' heartbeats at 1 Hz`,
        liveset: mib(master.rss),
        baseline: `node:http after the same load: ${mib(master.baseRss)}`,
        ratio: ratio(master.rss, master.baseRss, 'RSS'),
      },
    ];
  } finally {
    await Promise.all([base.stop(), core.stop(), ha1.stop(), ha2.stop()]);
  }
  return { rows, notes: [`Memory: VmRSS from /proc/<pid>/status, ${settleMs} ms after start for the idle servers; every server is compiled JavaScript run by plain \`node\` (liveset from dist/bundle/, the baseline from .bench-build/).`] };
}
