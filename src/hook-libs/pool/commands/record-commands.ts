import { value } from '../../../core/commands/answer.ts';
import { CommandError } from '../../../core/errors.ts';
import { entries, get, refs } from '../model/database.ts';
import { eventsSince, parseClasses, tokenOf } from '../model/events.ts';
import { CLASS_NAMES, parseClassName, type ClassName } from '../model/records.ts';
import type { PoolService } from '../pool-service.ts';
import { call, type PoolCommand } from './define.ts';

/** The longest one event.from call waits, whatever the client asks. */
const MAX_EVENT_WAIT_MS = 120_000;

/** <class>.get_all_records / get_all / get_record, task.get_all_records, event.inject, event.from. */
export function recordCommands(svc: PoolService): PoolCommand[] {
  const out: PoolCommand[] = [];
  for (const cls of CLASS_NAMES) {
    out.push(call(svc, `${cls}.get_all_records`, 'master-read', () => value(Object.fromEntries(entries(svc.db, cls)))));
    out.push(call(svc, `${cls}.get_all`, 'master-read', () => value(refs(svc.db, cls))));
    out.push(call(svc, `${cls}.get_record`, 'master-read', (a) => value(get(svc.db, cls, a['self']))));
  }
  out.push(call(svc, 'task.get_all_records', 'master-read', () => value({})));
  out.push(call(svc, 'event.inject', 'master-write', async (a) => {
    const cls = parseClassName(String(a['class']));
    if (!cls) throw new CommandError('HANDLE_INVALID', [String(a['class']), String(a['ref'])]);
    get(svc.db, cls, a['ref']);
    const db = await svc.touch([{ op: 'mod', class: cls, ref: String(a['ref']), fields: {} }]);
    return value(tokenOf(db.generation));
  }));
  out.push(call(svc, 'event.from', 'master-read', async (a) => {
    const classes = parseClasses(a['classes'] as string[]);
    const token = String(a['token']);
    const deadline = svc.handle.clock.monotonicMs() + Math.min(Number(a['timeout']) * 1000, MAX_EVENT_WAIT_MS);
    for (;;) {
      svc.requireMaster(false);
      const r = eventsSince(svc.db, svc.events, classes, token, svc.wallMs());
      const left = deadline - svc.handle.clock.monotonicMs();
      if (r.events.length > 0 || left <= 0 || svc.stopped) return value({ events: r.events, token: r.token, valid_ref_counts: counts(svc, classes) });
      await svc.waitForChange(left);
    }
  }));
  return out;
}

function counts(svc: PoolService, classes: Set<ClassName>): Record<string, number> {
  const out: Record<string, number> = { task: 0 };
  for (const c of classes) out[c.toLowerCase()] = refs(svc.db, c).length;
  return out;
}
