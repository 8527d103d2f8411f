import { value } from '../../../core/commands/answer.ts';
import { CommandError } from '../../../core/errors.ts';
import { sameSecret } from '../../../transports/basic-auth.ts';
import type { PoolService } from '../pool-service.ts';
import { call, type PoolCommand } from './define.ts';

function authenticate(svc: PoolService, args: Record<string, unknown>): string {
  const user = String(args['uname']);
  const given = typeof args['pwd'] === 'string' ? args['pwd'] : '';
  // Every entry compared in constant time (no early exit), so timing says nothing about the password.
  const ok = svc.cfg.credentials.reduce((found, c) => sameSecret(given, c.password) && c.user === user ? true : found, false);
  if (!ok) throw new CommandError('SESSION_AUTHENTICATION_FAILED', [user, 'Authentication failure']);
  return user;
}

/** session.* and system.listMethods. `names` is filled with every call the library registers. */
export function sessionCommands(svc: PoolService, names: () => readonly string[]): PoolCommand[] {
  return [
    call(svc, 'session.login_with_password', 'master-read', (a) => value(svc.sessions.open(authenticate(svc, a), false)), { session: false }),
    call(svc, 'session.slave_local_login_with_password', 'any-host', (a) => value(svc.sessions.open(authenticate(svc, a), true)), { session: false }),
    call(svc, 'session.logout', 'any-host', (a) => {
      svc.sessions.close(String(a['session_id'] ?? ''));
      return value('');
    }, { session: false }),
    call(svc, 'system.listMethods', 'any-host', () => value([...names()].sort()), { session: false }),
  ];
}
