import type { Overview, ServerView } from './overview.ts';

/**
 * The status page's picture as terminal text (`liveset status`): one block per server, the pool's
 * hosts and VMs. Fields the page lists generically are listed here too, so new status-get keys
 * show up without changes. Pure: overview in, lines out.
 */
export function overviewText(o: Overview, opts: { color: boolean; width?: number } = { color: false }): string {
  const c = (code: string, s: string) => (opts.color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const state = (s: unknown) => {
    const text = String(s ?? 'unknown');
    if (/^(load-balancing|hot-standby|passive-backup|backup)$/.test(text)) return c('32', text);
    if (/^(partner-down|terminated|unavailable)$/.test(text)) return c('31', text);
    if (/^(waiting|syncing|ready|communication-recovery)$/.test(text)) return c('33', text);
    return c('36', text);
  };
  const scalar = (v: unknown) => (v === null || v === undefined ? '-' : Array.isArray(v) ? v.join(',') || '-' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const lines = [`${c('1', `liveset · ${o.server}`)}   ${o.generated}`, ''];
  for (const s of o.servers) lines.push(...serverLines(s, state, scalar, c), '');
  if (o.pool) {
    const rec = o.pool.records;
    const hosts = rec['host'] ?? {};
    const metrics = rec['host_metrics'] ?? {};
    const poolRec = Object.values(rec['pool'] ?? {})[0] ?? {};
    lines.push(`${c('1', 'pool')}  master ${o.pool.master ?? c('31', 'none')}${o.pool.error ? `  ${c('31', o.pool.error)}` : ''}`);
    const poolFields = Object.entries(poolRec).filter(([k, v]) => k !== 'master' && k !== 'uuid' && (v === null || typeof v !== 'object'));
    if (poolFields.length > 0) lines.push(`  ${poolFields.map(([k, v]) => `${k}=${scalar(v)}`).join('  ')}`);
    for (const [ref, h] of Object.entries(hosts)) {
      const live = (metrics[String(h['metrics'])] ?? {})['live'] === true;
      const name = String(h['name_label'] ?? ref);
      const vms = Object.values(rec['VM'] ?? {}).filter((v) => v['resident_on'] === ref && v['is_control_domain'] !== true);
      lines.push(`  ${name.padEnd(12)} ${live ? c('32', 'live    ') : c('31', 'not live')} enabled=${scalar(h['enabled'])}${poolRec['master'] === ref ? `  ${c('36', 'master')}` : ''}`);
      for (const v of vms) lines.push(`      vm ${String(v['name_label'])}  ${scalar(v['power_state'])}  priority=${scalar(v['ha_restart_priority'])}`);
    }
    const idle = Object.values(rec['VM'] ?? {}).filter((v) => v['is_control_domain'] !== true && !(String(v['resident_on']) in hosts));
    for (const v of idle) lines.push(`  (not running) vm ${String(v['name_label'])}  ${scalar(v['power_state'])}  priority=${scalar(v['ha_restart_priority'])}`);
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

const SKIP = new Set(['server', 'url', 'pid', 'uptime', 'reload', 'libraries', 'high-availability', 'pool']);

function serverLines(
  s: ServerView,
  state: (s: unknown) => string,
  scalar: (v: unknown) => string,
  c: (code: string, s: string) => string,
): string[] {
  const head = `${c('1', s.name)}${s.self ? ' (this server)' : ''}  ${s.url}  ${s.reachable ? c('32', 'up') : c('31', 'unreachable')}`;
  const out = [head];
  if (s.error) out.push(`  error: ${s.error}`);
  const st = s.status;
  if (!st) return out;
  for (const entry of (Array.isArray(st['high-availability']) ? st['high-availability'] : []) as Record<string, any>[]) {
    const local = entry['ha-servers']?.local ?? {};
    const remote = entry['ha-servers']?.remote;
    const paused = local.paused === true ? c('33', ` PAUSED in ${String(local['paused-state'] ?? local.state)}`) : '';
    out.push(`  ha ${String(entry['ha-mode'])}: ${state(local.state)}${paused}  scopes=${scalar(local.scopes)}`);
    if (remote) {
      out.push(`  partner ${String(remote['server-name'])}: ${state(remote['last-state'] || 'unknown')}  heartbeat age=${scalar(remote.age)}s  clock skew=${scalar(remote['clock-skew'])}s  in-touch=${scalar(remote['in-touch'])}`);
    }
    const known = new Set(['state', 'paused', 'paused-state', 'scopes', 'role', 'server-name', 'system-time']);
    const extra = Object.entries(local).filter(([k]) => !known.has(k)).concat(Object.entries(entry).filter(([k]) => k !== 'ha-mode' && k !== 'ha-servers'));
    for (const [k, v] of extra) out.push(`  ${k}: ${scalar(v)}`);
  }
  const pool = st['pool'] as Record<string, unknown> | undefined;
  if (pool) out.push(`  pool: ${Object.entries(pool).map(([k, v]) => `${k}=${scalar(v)}`).join('  ')}`);
  for (const [k, v] of Object.entries(st).filter(([k]) => !SKIP.has(k))) out.push(`  ${k}: ${scalar(v)}`);
  return out;
}
