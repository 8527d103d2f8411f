// The shell and the commands, two servers in one process on a fake clock and an in-memory
// control channel (real processes are in test/integration/ha-*.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Answer } from '../../../src/core/commands/answer.ts';
import type { CommandContext, CommandSpec } from '../../../src/core/commands/command.ts';
import type { Clock, Timer } from '../../../src/core/clock.ts';
import { CommandError } from '../../../src/core/errors.ts';
import { CalloutRegistry } from '../../../src/core/hooks/callouts.ts';
import type { Callout, LibraryHandle, PeerAddress } from '../../../src/core/hooks/hook-library.ts';
import { PeerUnreachableError } from '../../../src/core/hooks/hook-library.ts';
import { silentLogger } from '../../../src/core/logger.ts';
import { registerHaCommands } from '../../../src/hook-libs/ha/ha-commands.ts';
import type { HaConfig } from '../../../src/hook-libs/ha/ha-config.ts';
import { HaService } from '../../../src/hook-libs/ha/ha-service.ts';
import { haStatusEntry } from '../../../src/hook-libs/ha/ha-status.ts';
import { config, WALL0 } from './ha-fixtures.ts';
import { WitnessDesk } from '../../../src/core/witness-probe.ts';

class FakeClock implements Clock {
  now = 0;
  private timers: { at: number; fn: () => void; live: boolean }[] = [];
  monotonicMs(): number {
    return this.now;
  }
  wallMs(): number {
    return WALL0 + this.now;
  }
  setTimer(delayMs: number, fn: () => void): Timer {
    const t = { at: this.now + Math.max(0, delayMs), fn, live: true };
    this.timers.push(t);
    return { cancel: () => void (t.live = false) };
  }
  /** Runs every timer due up to `until`, letting promises settle after each. */
  async advance(until: number): Promise<void> {
    for (;;) {
      await flush();
      this.timers = this.timers.filter((t) => t.live);
      const next = this.timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at)[0];
      if (next === undefined) break;
      this.now = next.at;
      next.live = false;
      next.fn();
    }
    this.now = until;
    await flush();
  }
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

interface Node {
  name: string;
  service: HaService;
  commands: Map<string, CommandSpec['handler']>;
  events: unknown[];
  down: boolean;
  callouts: CalloutRegistry;
}

const ctx = { transport: 'internal', positional: false, logger: silentLogger } as CommandContext;

class Net {
  readonly clock = new FakeClock();
  readonly nodes = new Map<string, Node>();

  add(cfg: HaConfig, setup?: (callouts: CalloutRegistry) => void): Node {
    const commands = new Map<string, CommandSpec['handler']>();
    const events: unknown[] = [];
    const callouts = new CalloutRegistry();
    setup?.(callouts);
    const handle: LibraryHandle = {
      parameters: {},
      serverName: cfg.thisServerName,
      selfUrl: '',
      configDir: '.',
      clock: this.clock,
      logger: silentLogger,
      stores: { open: () => Promise.reject(new Error('no stores')) },
      callPeer: (peer: PeerAddress, command: string, args: Record<string, unknown> | undefined) => this.call(peer.name, command, args ?? {}, cfg.thisServerName),
      registerCommand: (spec) => void commands.set(spec.name, spec.handler),
      registerCallout: (point: string, fn: Callout) => callouts.add(point, 'test', fn),
      registerStatus: () => undefined,
      runCallouts: (point, args) => callouts.run(point, args),
      publish: (event, data) => void events.push({ event, data }),
      dispatch: () => Promise.reject(new Error('unused')),
    };
    const service = new HaService(handle, cfg);
    registerHaCommands(handle, service);
    const node = { name: cfg.thisServerName, service, commands, events, down: false, callouts };
    this.nodes.set(node.name, node);
    service.start();
    return node;
  }

  /** Links cut both ways, as `a|b` with a < b. */
  readonly cuts = new Set<string>();

  async call(to: string, command: string, args: Record<string, unknown>, from?: string): Promise<Answer> {
    await Promise.resolve();
    const node = this.nodes.get(to);
    if (node === undefined || node.down) throw new PeerUnreachableError(to, 'ECONNREFUSED');
    if (from !== undefined && this.cuts.has([from, to].sort().join('|'))) throw new PeerUnreachableError(to, 'traffic cut');
    return this.command(to, command, args);
  }

  /** Runs a command the way dispatch would: a thrown CommandError becomes its answer. */
  async command(to: string, command: string, args: Record<string, unknown> = {}): Promise<Answer> {
    const handler = this.nodes.get(to)!.commands.get(command)!;
    try {
      return await handler(args, ctx);
    } catch (err) {
      if (err instanceof CommandError) return { result: err.result, text: err.message };
      throw err;
    }
  }

  state(name: string): string {
    return this.nodes.get(name)!.service.current.state;
  }
}

test('a load-balancing pair reaches load-balancing; ha-heartbeat answers Kea fields', async () => {
  const net = new Net();
  net.add(config());
  net.add(config({ me: 1 }));
  await net.clock.advance(10_000);
  assert.equal(net.state('server1'), 'load-balancing');
  assert.equal(net.state('server2'), 'load-balancing');
  const hb = await net.command('server1', 'ha-heartbeat', {});
  assert.equal(hb.result, 0);
  assert.equal(hb.text, 'HA peer status returned.');
  const a = hb.arguments as Record<string, unknown>;
  assert.equal(a['state'], 'load-balancing');
  assert.deepEqual(a['scopes'], ['server1']);
  assert.equal(a['unsent-update-count'], 0);
  assert.match(String(a['date-time']), /^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
  const bad = await net.command('server1', 'ha-heartbeat', { 'server-name': 'nobody' });
  assert.deepEqual(bad, { result: 1, text: "nobody matches no configured 'server-name'" });
});

test('transitions are published, run callouts in order, and appear in status-get', async () => {
  const net = new Net();
  const seen: string[] = [];
  const n1 = net.add(config(), (c) => c.add('ha_state_transition', 'test', (args) => void seen.push(`${String(args['old-state'])}>${String(args['new-state'])}`)));
  net.add(config({ me: 1 }));
  await net.clock.advance(10_000);
  assert.deepEqual(seen, ['null>waiting', 'waiting>syncing', 'syncing>ready', 'ready>load-balancing']);
  assert.equal(n1.events.length, 4);
  const status = haStatusEntry(n1.service.cfg, n1.service.current, net.clock.now);
  assert.equal(status['ha-mode'], 'load-balancing');
  const servers = status['ha-servers'] as Record<string, Record<string, unknown>>;
  assert.equal(servers['local']!['state'], 'load-balancing');
  assert.equal(servers['local']!['paused'], false);
  assert.equal(servers['remote']!['last-state'], 'load-balancing');
  assert.equal(servers['remote']!['in-touch'], true);
  assert.equal(servers['remote']!['communication-interrupted'], false);
  assert.equal(servers['remote']!['clock-skew'], 0);
});

test('pause: waiting once holds both; ha-continue answers Kea texts and releases', async () => {
  const net = new Net();
  net.add(config({ pause: { waiting: 'once' } }));
  net.add(config({ me: 1, pause: { waiting: 'once' } }));
  await net.clock.advance(5_000);
  assert.equal(net.state('server1'), 'waiting');
  assert.deepEqual(await net.command('server1', 'ha-reset'), { result: 0, text: 'HA state machine already in WAITING state.' });
  assert.deepEqual(await net.command('server1', 'ha-continue'), { result: 0, text: 'HA state machine continues.' });
  assert.deepEqual(await net.command('server1', 'ha-continue'), { result: 0, text: 'HA state machine is not paused.' });
  assert.deepEqual(await net.command('server2', 'ha-continue'), { result: 0, text: 'HA state machine continues.' });
  await net.clock.advance(15_000);
  assert.equal(net.state('server1'), 'load-balancing');
  assert.equal(net.state('server2'), 'load-balancing');
  assert.deepEqual(await net.command('server1', 'ha-reset'), { result: 0, text: 'HA state machine reset.' });
  assert.equal(net.state('server1'), 'syncing', 'waiting ran once and saw its partner load-balancing');
});

test('maintenance: start → partner-in-maintenance / in-maintenance → cancel; refusals with Kea texts and 1001', async () => {
  const net = new Net();
  net.add(config());
  net.add(config({ me: 1 }));
  await net.clock.advance(10_000);
  const start = await net.command('server1', 'ha-maintenance-start');
  assert.equal(start.result, 0);
  assert.match(start.text!, /^Server is now in the partner-in-maintenance state and its partner is in-maintenance state/);
  assert.equal(net.state('server1'), 'partner-in-maintenance');
  assert.equal(net.state('server2'), 'in-maintenance');
  await net.clock.advance(12_000);
  assert.equal(net.state('server1'), 'partner-in-maintenance', 'stays while the partner answers heartbeats');
  const again = await net.command('server1', 'ha-maintenance-start');
  assert.deepEqual(again, { result: 1, text: 'Unable to transition the server from the partner-in-maintenance to partner-in-maintenance state.' });
  const refused = await net.command('server2', 'ha-maintenance-start');
  assert.deepEqual(refused, { result: 1, text: 'Unable to transition the server from the in-maintenance to partner-in-maintenance state.' });
  const notify = await net.command('server1', 'ha-maintenance-notify', { cancel: false });
  assert.deepEqual(notify, { result: 1001, text: 'Unable to transition the server from the partner-in-maintenance to in-maintenance state.' });
  const cancel = await net.command('server1', 'ha-maintenance-cancel');
  assert.deepEqual(cancel, { result: 0, text: 'Server maintenance successfully canceled.' });
  assert.equal(net.state('server1'), 'load-balancing');
  assert.equal(net.state('server2'), 'load-balancing');
  const notPim = await net.command('server1', 'ha-maintenance-cancel');
  assert.deepEqual(notPim, { result: 1, text: 'Unable to cancel maintenance request because the server is not in the partner-in-maintenance state.' });
  const notIn = await net.command('server1', 'ha-maintenance-notify', { cancel: true });
  assert.deepEqual(notIn, { result: 1, text: 'Unable to cancel the maintenance for the server not in the in-maintenance state.' });
});

test('maintenance: partner shut down after start → partner-down at once; start with partner gone → partner-down', async () => {
  const net = new Net();
  net.add(config());
  const n2 = net.add(config({ me: 1 }));
  await net.clock.advance(10_000);
  await net.command('server1', 'ha-maintenance-start');
  n2.down = true;
  await net.clock.advance(11_100);
  assert.equal(net.state('server1'), 'partner-down');
  await net.command('server1', 'ha-reset');
  await net.clock.advance(11_200);
  const start = await net.command('server1', 'ha-maintenance-start');
  assert.equal(start.text, 'Server is now in the partner-down state as its partner appears to be offline for maintenance.');
  assert.equal(net.state('server1'), 'partner-down');
});

test('partner killed → partner-down; back → load-balancing (sync-complete-notify on the way)', async () => {
  const net = new Net();
  net.add(config());
  const n2 = net.add(config({ me: 1 }));
  await net.clock.advance(10_000);
  n2.down = true;
  await net.clock.advance(20_000);
  assert.equal(net.state('server1'), 'partner-down');
  net.nodes.delete('server2');
  net.add(config({ me: 1 }));
  await net.clock.advance(40_000);
  assert.equal(net.state('server1'), 'load-balancing');
  assert.equal(net.state('server2'), 'load-balancing');
});

test('ha-scopes, ha-query and ha-sync', async () => {
  const net = new Net();
  let synced = 0;
  net.add(config(), (c) => c.add('ha_sync', 'test', () => void synced++));
  net.add(config({ me: 1 }));
  await net.clock.advance(10_000);
  assert.ok(synced >= 1, 'the syncing state ran the ha_sync callout');
  const keys = Array.from({ length: 20 }, (_, i) => `client-${i}`);
  const answers = await Promise.all(keys.map((key) => net.command('server1', 'ha-query', { key })));
  const mine = answers.filter((a) => (a.arguments as { serve: boolean }).serve);
  assert.ok(mine.length > 0 && mine.length < keys.length, 'load-balancing splits the keys');
  for (const a of answers) {
    const args = a.arguments as { serve: boolean; scope: string };
    assert.equal(args.serve, args.scope === 'server1');
  }
  assert.deepEqual(await net.command('server1', 'ha-scopes', { scopes: ['server1', 'server2'] }), { result: 0, text: 'New HA scopes configured.' });
  const all = await Promise.all(keys.map((key) => net.command('server1', 'ha-query', { key })));
  assert.ok(all.every((a) => (a.arguments as { serve: boolean }).serve));
  assert.deepEqual(await net.command('server1', 'ha-scopes', { scopes: ['server7'] }), {
    result: 1,
    text: "invalid server name specified 'server7' while enabling/disabling HA scopes",
  });
  assert.deepEqual(net.nodes.get('server1')!.service.current.scopes, ['server1', 'server2'], 'unchanged after a bad name');
  assert.deepEqual(await net.command('server1', 'ha-sync', { 'server-name': 'server2' }), { result: 0, text: 'Lease database synchronization complete.' });
  assert.deepEqual(await net.command('server1', 'ha-sync', { 'server-name': 'server1' }), { result: 1, text: "'server1' points to local server but should point to a partner" });
  assert.deepEqual(await net.command('server1', 'ha-sync', { 'server-name': 'x' }), { result: 1, text: 'no configuration specified for server x' });
  const hex = await net.command('server1', 'ha-query', { key: 'zz', 'key-format': 'hex' });
  assert.equal(hex.result, 1);
});

test('a failing ha_sync callout keeps the server in syncing; it retries after the next heartbeat', async () => {
  const net = new Net();
  let attempts = 0;
  net.add(config(), (c) =>
    c.add('ha_sync', 'test', (args) => {
      attempts++;
      if (attempts < 3) args['error'] = 'database busy';
    }),
  );
  net.add(config({ me: 1 }));
  await net.clock.advance(2_500);
  assert.equal(net.state('server1'), 'syncing');
  assert.equal(attempts, 2);
  await net.clock.advance(15_000);
  assert.equal(attempts, 3);
  assert.equal(net.state('server1'), 'load-balancing');
});

test('witnesses through the shell: ha-witness-probe, the ha_partner_failure_check callout, status, ha-heartbeat and events', async () => {
  const net = new Net();
  const desk = new WitnessDesk(net.clock);
  const commands = new Map<string, CommandSpec['handler']>([
    ['ha-witness-probe', (args) => desk.probe(args, (peer, command, a) => net.call(peer.name, command, a, 'w1'))],
  ]);
  net.nodes.set('w1', { name: 'w1', service: undefined as unknown as HaService, commands, events: [], down: false, callouts: new CalloutRegistry() });
  const witness = { members: [{ name: 'w1', url: 'http://127.0.0.1:9001/' }], timeoutMs: 1000, marginMs: 500 };
  const checks: Record<string, unknown>[] = [];
  const n1 = net.add(config({ overrides: { witness } }), (c) => c.add('ha_partner_failure_check', 'test', (args) => void checks.push({ ...args })));
  net.add(config({ me: 1, overrides: { witness } }));
  await net.clock.advance(10_000);
  assert.equal(net.state('server1'), 'load-balancing');

  net.cuts.add('server1|server2');
  await net.clock.advance(30_000);
  assert.equal(net.state('server1'), 'communication-recovery');
  assert.equal(net.state('server2'), 'communication-recovery');
  assert.deepEqual(checks[0], { 'server-name': 'server1', partner: 'server2', 'timeout-ms': 1000 });
  const status = haStatusEntry(n1.service.cfg, n1.service.current, net.clock.now);
  const w = status['witnesses'] as Record<string, any>;
  assert.equal(w['verdict'], 'partner-alive');
  assert.deepEqual(w['members'][0]['partner-serving'], ['server2']);
  assert.equal(w['members'][0]['partner-state'], 'communication-recovery');
  assert.equal((status['ha-servers'] as Record<string, any>)['local']['serving'], true);
  const hb = await net.command('server1', 'ha-heartbeat', { 'server-name': 'server2' });
  assert.equal((hb.arguments as Record<string, unknown>)['serving'], true);
  assert.equal(((hb.arguments as Record<string, any>)['witnesses'] as Record<string, unknown>)['verdict'], 'partner-alive');
  assert.ok(n1.events.some((e) => (e as { event: string; data: Record<string, unknown> }).event === 'ha-witness-verdict'));

  net.nodes.get('server2')!.down = true;
  await net.clock.advance(40_000);
  assert.equal(net.state('server1'), 'partner-down');
  assert.equal((haStatusEntry(n1.service.cfg, n1.service.current, net.clock.now)['witnesses'] as Record<string, unknown>)['verdict'], 'partner-failed');
});

test('an ha_partner_failure_check callout that sees the partner alive holds partner-down back', async () => {
  const net = new Net();
  const witness = { members: [{ name: 'w1', url: 'http://127.0.0.1:9001/' }], timeoutMs: 1000, marginMs: 500 };
  const desk = new WitnessDesk(net.clock);
  net.nodes.set('w1', {
    name: 'w1',
    service: undefined as unknown as HaService,
    commands: new Map([['ha-witness-probe', (args: Record<string, unknown>) => desk.probe(args, (peer, command, a) => net.call(peer.name, command, a, 'w1'))]]),
    events: [],
    down: false,
    callouts: new CalloutRegistry(),
  });
  net.add(
    config({ overrides: { witness } }),
    (c) =>
      c.add('ha_partner_failure_check', 'test', (args) => {
        args['partner-alive'] = true;
        args['reason'] = 'clients still reach server2';
      }),
  );
  net.add(config({ me: 1, overrides: { witness } }));
  await net.clock.advance(10_000);
  net.nodes.get('server2')!.down = true;
  await net.clock.advance(40_000);
  assert.equal(net.state('server1'), 'communication-recovery');
  assert.match(String(net.nodes.get('server1')!.service.current.witness?.last?.reason), /clients still reach server2/);
});

test('maintenance: two concurrent ha-maintenance-start: the machine takes one, the other is answered as refused', async () => {
  const net = new Net();
  net.add(config());
  net.add(config({ me: 1 }));
  await net.clock.advance(10_000);
  const answers = await Promise.all([net.command('server1', 'ha-maintenance-start'), net.command('server1', 'ha-maintenance-start')]);
  assert.deepEqual(answers.map((a) => a.result).sort(), [0, 1], JSON.stringify(answers));
  assert.equal(answers.find((a) => a.result === 1)?.text, 'Unable to transition the server from the partner-in-maintenance to partner-in-maintenance state.');
  assert.equal(net.state('server1'), 'partner-in-maintenance');
  assert.equal(net.state('server2'), 'in-maintenance');
});

test('reconfigure: new timers and pause rules apply in place with the state kept; a changed relationship asks for a restart', async () => {
  const net = new Net();
  const s1 = net.add(config());
  net.add(config({ me: 1 }));
  await net.clock.advance(10_000);
  assert.equal(net.state('server1'), 'load-balancing');

  const beats: number[] = [];
  const call = net.call.bind(net);
  net.call = (to, command, args, from) => {
    if (command === 'ha-heartbeat' && from === 'server1') beats.push(net.clock.now);
    return call(to, command, args, from);
  };
  await net.clock.advance(20_000);
  const before = beats.length;
  assert.ok(before >= 9 && before <= 11, `about one heartbeat a second at heartbeat-delay 1000 (got ${before})`);

  // Slower heartbeats and a pause in partner-down: both take effect without leaving load-balancing.
  assert.equal(s1.service.reconfigure(config({ pause: { 'partner-down': 'always' }, overrides: { heartbeatDelay: 4000, maxResponseDelay: 20_000 } })), true);
  assert.equal(net.state('server1'), 'load-balancing', 'state kept');
  beats.length = 0;
  await net.clock.advance(60_000);
  assert.ok(beats.length >= 8 && beats.length <= 11, `one heartbeat per 4 s after the change (got ${beats.length} in 40 s)`);
  assert.equal(net.state('server1'), 'load-balancing');

  net.nodes.get('server2')!.down = true;
  await net.clock.advance(120_000);
  assert.equal(net.state('server1'), 'partner-down');
  assert.equal(s1.service.current.pause.paused, true, 'the new pause rule applies');

  // Another mode or other peers is another relationship: declined, the running settings stay.
  assert.equal(s1.service.reconfigure(config({ mode: 'hot-standby' })), false);
  assert.equal(s1.service.reconfigure(config({ autoFailover: false })), false);
  assert.equal(s1.service.cfg.heartbeatDelay, 4000);
  assert.equal(net.state('server1'), 'partner-down');
});
