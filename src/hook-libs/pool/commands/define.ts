import type { Answer } from '../../../core/commands/answer.ts';
import type { CommandContext } from '../../../core/commands/command.ts';
import type { PoolService } from '../pool-service.ts';
import { checkSession } from './guard.ts';

/** Where a call may run: on the master only (reads or writes), or on any host. */
export type Where = 'master-read' | 'master-write' | 'any-host';

export interface PoolCommand {
  readonly name: string;
  readonly handler: (args: Record<string, unknown>, ctx: CommandContext) => Promise<Answer>;
}

/**
 * Declares a XenAPI call: the master check comes first (a slave answers HOST_IS_SLAVE even to a
 * stale session, which is what lets clients find the new master), then the session check.
 */
export function call(
  svc: PoolService, name: string, where: Where,
  fn: (args: Record<string, unknown>, ctx: CommandContext) => Answer | Promise<Answer>,
  opts: { session?: boolean } = {},
): PoolCommand {
  return {
    name,
    handler: async (args, ctx) => {
      if (where !== 'any-host') svc.requireMaster(where === 'master-write');
      if (opts.session !== false) checkSession(svc.sessions, args, ctx);
      return fn(args, ctx);
    },
  };
}
