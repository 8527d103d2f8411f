import { WebSocket } from 'ws';
import { keaCommand, startLiveset, waitFor, type LivesetProcess } from '../test/helpers/liveset.ts';
import { haPairConfig, witnessConfig, type HaMode } from './lib/configs.ts';
import { fmt, ratio, type Row, type SectionResult } from './lib/report.ts';
import { summarize } from './lib/stats.ts';

export interface FailoverOptions {
  readonly timings: readonly { heartbeatMs: number; maxResponseMs: number; kills: number }[];
}

interface Transition {
  'new-state': string;
  'since-last-heartbeat-ms': number;
  time: string;
}

const NORMAL: Record<HaMode, string> = { 'load-balancing': 'load-balancing', 'hot-standby': 'hot-standby' };

async function haState(p: LivesetProcess): Promise<string | undefined> {
  const a = await keaCommand(p.url, 'status-get', undefined, { timeoutMs: 1000 });
  return a.arguments?.['high-availability']?.[0]?.['ha-servers']?.local?.state as string | undefined;
}

/** Collects the survivor's ha-state-transition events over its WebSocket. */
async function watchTransitions(url: string): Promise<{ next(state: string, timeoutMs: number): Promise<Transition>; close(): void }> {
  const ws = new WebSocket(new URL('/ws', url.replace(/^http/, 'ws')));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const seen: Transition[] = [];
  let wake: () => void = () => {};
  ws.on('message', (d: Buffer) => {
    const m = JSON.parse(d.toString()) as { method?: string; params?: Transition };
    if (m.method === 'ha-state-transition' && m.params) {
      seen.push(m.params);
      wake();
    }
  });
  ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscribe', params: { events: ['ha-state-transition'] } }));
  return {
    async next(state, timeoutMs) {
      seen.length = 0;
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = seen.find((t) => t['new-state'] === state);
        if (hit) return hit;
        if (Date.now() > deadline) throw new Error(`no transition to ${state} within ${timeoutMs} ms`);
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 100);
        });
      }
    },
    close: () => ws.terminate(),
  };
}

/**
 * kill -9 of one server of a pair, `kills` times; the killed one is restarted and the pair let
 * settle each time. With `witness`, a third liveset server (no library) witnesses the pair.
 */
async function measurePair(mode: HaMode, heartbeatMs: number, maxResponseMs: number, kills: number, witness = false) {
  const w = witness ? await startLiveset({ config: await witnessConfig('w1') }) : undefined;
  const cfg = await haPairConfig(mode, heartbeatMs, maxResponseMs, w ? [{ name: w.name, url: w.url }] : []);
  const [victim, survivor] = await Promise.all([startLiveset({ config: cfg, server: 'server1' }), startLiveset({ config: cfg, server: 'server2' })]);
  let watch: Awaited<ReturnType<typeof watchTransitions>> | undefined;
  const fromKill: number[] = [];
  const fromHeartbeat: number[] = [];
  try {
    watch = await watchTransitions(survivor.url);
    const settle = Math.max(20_000, maxResponseMs * 8);
    for (let i = 0; i < kills; i++) {
      await waitFor(async () => (await haState(victim)) === NORMAL[mode] && (await haState(survivor)) === NORMAL[mode], {
        timeoutMs: settle,
        intervalMs: 50,
        what: `${mode} pair to reach ${NORMAL[mode]}`,
      });
      // Kill at a random point in the heartbeat cycle, as a real crash would.
      await new Promise((r) => setTimeout(r, Math.random() * heartbeatMs));
      const pending = watch.next('partner-down', maxResponseMs * 4 + 10_000);
      const killedAt = Date.now();
      await victim.kill();
      const t = await pending;
      fromKill.push(Date.parse(t.time) - killedAt);
      fromHeartbeat.push(t['since-last-heartbeat-ms']);
      await victim.restart();
    }
  } finally {
    watch?.close();
    await survivor.stop();
    await victim.stop();
    await w?.stop();
  }
  return { fromKill: summarize(fromKill), fromHeartbeat: summarize(fromHeartbeat) };
}

const mmm = (s: { min: number; median: number; max: number }) => `${fmt(s.min)} / ${fmt(s.median)} / ${fmt(s.max)} ms`;

/**
 * Failover time. The baseline is the configured max-response-delay: the silence after which the
 * survivor may declare the partner down, so the ratio says how much liveset adds to its own timer.
 */
export async function failover(o: FailoverOptions): Promise<SectionResult> {
  const rows: Row[] = [];
  for (const t of o.timings) {
    for (const mode of ['load-balancing', 'hot-standby'] as const) {
      const r = await measurePair(mode, t.heartbeatMs, t.maxResponseMs, t.kills);
      const base = `max-response-delay ${fmt(t.maxResponseMs)} ms`;
      rows.push({
        group: 'failover',
        what: `${mode} ${t.heartbeatMs}/${t.maxResponseMs} ms, kill -9 → partner-down, N=${t.kills} (min / median / max)`,
        liveset: mmm(r.fromKill),
        baseline: base,
        ratio: `${ratio(r.fromKill.median, t.maxResponseMs, 'median')}; ${ratio(r.fromKill.max, t.maxResponseMs, 'max')}`,
      });
      rows.push({
        group: 'failover',
        what: `${mode} ${t.heartbeatMs}/${t.maxResponseMs} ms, last good heartbeat → partner-down, N=${t.kills}`,
        liveset: mmm(r.fromHeartbeat),
        baseline: base,
        ratio: `${ratio(r.fromHeartbeat.median, t.maxResponseMs, 'median')}; ${ratio(r.fromHeartbeat.max, t.maxResponseMs, 'max')}`,
      });
      if (mode !== 'load-balancing') continue;
      // The same pair with one witness: the price of asking it before partner-down.
      const wr = await measurePair(mode, t.heartbeatMs, t.maxResponseMs, t.kills, true);
      rows.push({
        group: 'failover',
        what: `${mode} ${t.heartbeatMs}/${t.maxResponseMs} ms with 1 witness (default timeout and margin), kill -9 → partner-down, N=${t.kills}`,
        liveset: mmm(wr.fromKill),
        baseline: `same pair without witness: ${mmm(r.fromKill)}`,
        ratio: `${ratio(wr.fromKill.median, r.fromKill.median, 'median')}; ${ratio(wr.fromKill.max, r.fromKill.max, 'max')}`,
      });
    }
  }
  return {
    rows,
    notes: [
      'Failover: server1 of a pair is killed with SIGKILL at a random point of the heartbeat cycle; the time is taken from the kill ' +
        '(wall clock of the bench process just before the signal) and from the survivor\'s last successful heartbeat ' +
        '(`since-last-heartbeat-ms` of the survivor\'s `ha-state-transition` event) until the survivor\'s transition to partner-down ' +
        '(the event\'s `time`). The killed server is restarted and the pair left to return to its normal state before the next kill. ' +
        'Reference: the real Kea 2.2 pair at 1000/3000 ms took 2.5–2.8 s from the kill and about 3.09 s from the last good heartbeat. ' +
        'With a witness the survivor asks it after the first failed heartbeat and may take over only max-response-delay + the round trip + ' +
        'witness-margin (default max-response-delay / 10, at least 50 ms) after that round came back (docs/ha.md, Witnesses).',
    ],
  };
}
