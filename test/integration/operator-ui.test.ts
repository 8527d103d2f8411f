// The status page in a real browser (Debian's headless Chromium driven by playwright-core) against a
// real pair and a real three-host pool. Screenshots of the moments checked go to docs/screenshots/.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import WebSocket from 'ws';
import { chromium, type Browser, type Page } from 'playwright-core';
import { keaCommand, waitFor } from '../helpers/liveset.ts';
import { packageDir } from '../../src/operator/package-assets.ts';
import { AUTH_HEADER, OPERATOR, haLocal, startPair, untilLoadBalancing } from './operator-support.ts';
import { allLive, kea, startPool } from './pool-helpers.ts';

const CHROMIUM = '/usr/bin/chromium';
/**
 * Where the screenshots go: test-output/screenshots (ignored by git) unless LIVESET_SCREENSHOTS
 * names another directory; `npm run screenshots` points it at docs/screenshots, the committed set
 * the README links, so an ordinary test run never dirties the work tree.
 */
const SHOTS = resolve(process.env['LIVESET_SCREENSHOTS'] ?? join(packageDir('test'), '..', 'test-output', 'screenshots'));

/** Debian's Chromium, headless, with nothing that reaches out to the network (the machine has none). */
async function browser(t: TestContext): Promise<Browser> {
  const b = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.after(() => b.close());
  return b;
}

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, name), fullPage: true });
}

const field = (page: Page, server: string, name: string) => page.locator(`article[data-server="${server}"] [data-field="${name}"]`).first();

/** Opens a WebSocket as the operator and records when each ha-state-transition event arrives. */
async function transitionTimes(url: string, t: TestContext): Promise<{ arrived: (state: string) => number | undefined }> {
  const seen: { state: string; at: number }[] = [];
  const ws = new WebSocket(new URL('/ws', url).href.replace(/^http/, 'ws'), { headers: { Authorization: AUTH_HEADER } });
  t.after(() => ws.terminate());
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const subscribed = new Promise((resolve) => ws.once('message', resolve));
  ws.on('message', (data) => {
    const msg = JSON.parse(String(data)) as { method?: string; params?: Record<string, unknown> };
    if (msg.method === 'ha-state-transition') seen.push({ state: String(msg.params?.['new-state']), at: Date.now() });
  });
  ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscribe', params: { events: ['ha-state-transition'] } }));
  await subscribed;
  return { arrived: (state) => seen.find((e) => e.state === state)?.at };
}

test('pair: both servers shown; kill -9 shows partner-down within a second of the event; Continue unpauses', { timeout: 300_000 }, async (t) => {
  const pair = await startPair();
  t.after(() => pair.stopAll());
  await untilLoadBalancing(pair);
  const s1 = pair.server('server1');
  // The browser's own basic-auth credentials, as an operator typing them: they also open the WebSocket.
  const context = await (await browser(t)).newContext({ httpCredentials: { username: OPERATOR.user, password: OPERATOR.password }, viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(new URL('/ui/', s1.url).href);

  // Both servers' states, the partner's view of each other, and the live connection.
  for (const s of ['server1', 'server2']) await field(page, s, 'state').filter({ hasText: 'load-balancing' }).waitFor({ timeout: 60_000 });
  await field(page, 'server1', 'partner-state').filter({ hasText: 'load-balancing' }).waitFor({ timeout: 60_000 });
  await page.locator('#conn-text', { hasText: 'live' }).waitFor({ timeout: 60_000 });
  assert.equal(await field(page, 'server1', 'paused').textContent(), 'running');
  await shot(page, 'pair-load-balancing.png');
  const phone = await context.newPage();
  await phone.setViewportSize({ width: 390, height: 844 });
  await phone.goto(new URL('/ui/', s1.url).href);
  await field(phone, 'server2', 'state').filter({ hasText: 'load-balancing' }).waitFor({ timeout: 60_000 });
  // Page-side code is passed as text: the tests are type-checked without the DOM library.
  const overflow = (await phone.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number;
  assert.ok(overflow <= 0, `the page fits a phone's width (overflows by ${overflow}px)`);
  await shot(phone, 'pair-phone.png');
  await phone.close();

  // The page stamps the moment its server1 card first says partner-down.
  await page.evaluate(`new MutationObserver(() => {
    const el = document.querySelector('article[data-server="server1"] [data-field="state"]');
    if (window.partnerDownAt === undefined && el && el.textContent === 'partner-down') window.partnerDownAt = Date.now();
  }).observe(document.body, { subtree: true, childList: true, characterData: true })`);
  const events = await transitionTimes(s1.url, t);
  await pair.server('server2').kill();
  await field(page, 'server1', 'state').filter({ hasText: 'partner-down' }).waitFor({ timeout: 60_000 });
  const shownAt = (await page.evaluate('window.partnerDownAt')) as number | undefined;
  const eventAt = (await waitFor(() => events.arrived('partner-down'), { what: 'the partner-down event' })) as number;
  assert.ok(shownAt !== undefined, 'the page recorded when partner-down appeared');
  assert.ok(shownAt - eventAt < 1000, `partner-down shown ${shownAt - eventAt} ms after server1's transition event`);
  await page.locator('article[data-server="server2"] [data-field="reachable"]', { hasText: 'unreachable' }).waitFor({ timeout: 60_000 });
  await field(page, 'server1', 'paused').filter({ hasText: 'paused in partner-down' }).waitFor({ timeout: 60_000 });
  await page.locator('#timeline li[data-event="ha-state-transition"]', { hasText: 'partner-down' }).first().waitFor({ timeout: 5_000 });
  await shot(page, 'pair-partner-down-paused.png');

  // ha-continue pressed on the page unpauses the server.
  assert.equal((await haLocal(s1.url)).paused, true);
  await page.locator('article[data-server="server1"] button[data-cmd="ha-continue"]').click();
  await field(page, 'server1', 'paused').filter({ hasText: 'running' }).waitFor({ timeout: 60_000 });
  assert.equal((await haLocal(s1.url)).paused, false);
  assert.equal((await haLocal(s1.url)).state, 'partner-down');
  await page.locator('#timeline li[data-event="command"]', { hasText: 'ha-continue on server1' }).waitFor({ timeout: 5_000 });
  await shot(page, 'pair-continued.png');
  assert.deepEqual(errors, [], 'no script errors on the page');
});

test('pool: hosts and VMs shown; a master change and a host going not live appear on the page', { timeout: 300_000 }, async (t) => {
  const pool = await startPool();
  t.after(() => pool.stopAll());
  await allLive(pool);
  const refs = await pool.refs('host1');
  for (const [name, priority] of [['web', 'restart'], ['db', 'restart'], ['batch', 'best-effort']] as const) {
    const vm = (await kea(pool.url('host1'), 'VM.create', { args: { name_label: name, memory_static_max: 1 } })).arguments as string;
    assert.equal((await kea(pool.url('host1'), 'VM.set_ha_restart_priority', { self: vm, value: priority })).result, 0);
    const host = name === 'batch' ? refs['host3'] : refs['host2'];
    assert.equal((await kea(pool.url('host1'), 'VM.start_on', { vm, host, start_paused: false, force: false })).result, 0, `start ${name}`);
  }
  const page = await (await browser(t)).newPage({ viewport: { width: 1200, height: 1000 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(new URL('/ui/', pool.url('host1')).href);
  await page.locator('[data-field="pool-master"]', { hasText: 'host1' }).waitFor({ timeout: 60_000 });
  for (const h of pool.names) await page.locator(`tr[data-host="${h}"][data-live="true"]`).waitFor({ timeout: 60_000 });
  await page.locator('tr[data-vm="web"]', { hasText: 'host2' }).waitFor({ timeout: 60_000 });
  await page.locator('tr[data-vm="batch"]', { hasText: 'best-effort' }).waitFor({ timeout: 60_000 });
  await shot(page, 'pool-all-live.png');

  // designate_new_master: the page (still on host1, now a slave) follows the new master.
  assert.equal((await keaCommand(pool.url('host1'), 'pool.designate_new_master', { host: refs['host2'] }, { errorDetail: true, timeoutMs: 60_000 })).result, 0);
  await page.locator('[data-field="pool-master"]', { hasText: 'host2' }).waitFor({ timeout: 60_000 });
  await page.locator('tr[data-host="host2"][data-master="true"]').waitFor({ timeout: 60_000 });
  await page.locator('article[data-server="host1"] [data-field="pool-role"]', { hasText: 'slave' }).waitFor({ timeout: 60_000 });
  await page.locator('#timeline li', { hasText: 'master host1 → host2' }).first().waitFor({ timeout: 10_000 });
  await shot(page, 'pool-master-changed.png');

  // A host killed with -9 goes not live once the master's assumed-dead interval passes.
  await pool.hosts.get('host3')?.kill();
  await page.locator('tr[data-host="host3"][data-live="false"]').waitFor({ timeout: 60_000 });
  await page.locator('article[data-server="host3"] [data-field="reachable"]', { hasText: 'unreachable' }).waitFor({ timeout: 10_000 });
  await shot(page, 'pool-host-not-live.png');
  assert.deepEqual(errors, [], 'no script errors on the page');
});
