import { hasPeerTls, readPeerTls } from '../../core/peer-tls.ts';
import { HOOKS_API_VERSION, type HookLibrary, type LibraryHandle } from '../../core/hooks/hook-library.ts';
import schema from '../../../schemas/libraries/pool.schema.json' with { type: 'json' };
import { haCommands } from './commands/ha-commands.ts';
import { hostCommands, localStatus } from './commands/host-commands.ts';
import { plannerCommands } from './commands/planner-commands.ts';
import { poolCommands } from './commands/pool-commands.ts';
import { recordCommands } from './commands/record-commands.ts';
import { sessionCommands } from './commands/session-commands.ts';
import { vmCommands } from './commands/vm-commands.ts';
import { checkPoolConfig, parsePoolConfig, poolMembers, type PoolConfig } from './pool-config.ts';
import { loadPoolSecret, POOL_PEER_USER } from './pool-secret.ts';
import { RestartRunner } from './ha-restarts.ts';
import { PoolPlanner } from './pool-planner.ts';
import { PoolService } from './pool-service.ts';

let service: PoolService | undefined;

/** Builds the pool service on a handle and registers its calls; `start()` recovers and runs it. */
export function buildPool(handle: LibraryHandle, peerAuth?: PoolConfig['peerAuth'], peerTls?: PoolConfig['peerTls']): PoolService {
  const svc = new PoolService({ ...parsePoolConfig(handle.parameters), ...(peerAuth ? { peerAuth } : {}), ...(peerTls ? { peerTls } : {}) }, handle);
  svc.planner = new PoolPlanner(svc);
  svc.restarts = new RestartRunner(svc, svc.planner);
  const names: string[] = [];
  const commands = [
    ...sessionCommands(svc, () => names),
    ...recordCommands(svc),
    ...hostCommands(svc),
    ...poolCommands(svc),
    ...vmCommands(svc),
    ...plannerCommands(svc, svc.planner),
    ...haCommands(svc),
  ];
  for (const c of commands) {
    handle.registerCommand({ name: c.name, handler: c.handler });
    names.push(c.name);
  }
  handle.registerStatus('pool', () => localStatus(svc));
  return svc;
}

/** buildPool + start (also used by in-process tests). */
export async function loadPool(handle: LibraryHandle): Promise<PoolService> {
  const svc = buildPool(handle);
  await svc.start();
  return svc;
}

/**
 * The `pool` hook library: a pool of hosts with one master, the xapi way (see docs/pool.md).
 * Thin entry: parameters → PoolService (the shell) → command handlers over the pure model.
 */
export const library: HookLibrary = {
  name: 'pool',
  apiVersion: HOOKS_API_VERSION,
  parametersSchema: schema as Record<string, unknown>,
  members: poolMembers,
  check: checkPoolConfig,
  async load(handle: LibraryHandle) {
    // The pool secret: what hosts present to each other, and what the pool-internal calls demand.
    const cfg = parsePoolConfig(handle.parameters);
    const { secret, file, created } = loadPoolSecret(cfg, handle.configDir);
    if (created) {
      handle.logger.warn({ msgId: 'POOL_SECRET_CREATED', file }, `created a new pool secret in ${file} (mode 0600); every host of the pool needs the same one (copy it, and set pool-secret-file)`);
    }
    handle.registerPeerCredential?.(POOL_PEER_USER, secret);
    // Kept before start() so a failed start is still stopped by unload().
    const peerTls = cfg.tlsFiles !== undefined && hasPeerTls(cfg.tlsFiles) ? readPeerTls(handle.configDir, cfg.tlsFiles, 'pool TLS') : undefined;
    service = buildPool(handle, { user: POOL_PEER_USER, password: secret }, peerTls);
    await service.start();
  },
  reconfigure(parameters) {
    // The pool secret and TLS files are part of the pool's identity (pool-reconfigure.ts), so the
    // running service keeps the ones it read at load.
    return service?.reconfigure(parsePoolConfig(parameters)) ?? false;
  },
  async unload() {
    const svc = service;
    service = undefined;
    await svc?.stop();
  },
};
