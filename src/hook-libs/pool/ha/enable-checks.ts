import { CommandError } from '../../../core/errors.ts';
import { entries, find, get, isLive, poolEntry } from '../model/database.ts';
import type { Database, Ref } from '../model/records.ts';
import { baseTimeoutOf } from './timeouts.ts';

/**
 * pool.enable_ha's checks, in xapi's order (spec/xapi-ha.md §1.2), and the cluster-stack choice
 * (§2, DESIGN.md "The pool and its cluster stacks"). PURE: the shell passes which operation is in
 * progress and which stacks exist on this host.
 */

export type PoolOperation = 'ha_enable' | 'ha_disable' | 'designate_new_master';

export interface StackInfo {
  /** SR types its statefile can live in. */
  readonly statefileSrTypes: readonly string[];
  /** `<cluster-stack-root>/<name>` exists (always true without a root). */
  readonly installed: boolean;
}

export interface EnableContext {
  readonly inProgress: PoolOperation | undefined;
  readonly stacks: ReadonlyMap<string, StackInfo>;
  readonly testing: boolean;
}

export interface EnableArgs {
  readonly heartbeatSrs: readonly string[];
  readonly configuration: Readonly<Record<string, string>>;
  readonly clusterStack: string;
}

export interface EnablePlan {
  readonly stack: string;
  readonly sr: Ref;
  readonly timeoutMs: number;
}

const IN_PROGRESS = {
  ha_enable: 'HA_ENABLE_IN_PROGRESS',
  ha_disable: 'HA_DISABLE_IN_PROGRESS',
  designate_new_master: 'DESIGNATE_NEW_MASTER_IN_PROGRESS',
} as const;

/** Throws the `*_IN_PROGRESS` error of a blocking pool operation already running. */
export function assertNoPoolOperation(inProgress: PoolOperation | undefined): void {
  if (inProgress) throw new CommandError(IN_PROGRESS[inProgress], []);
}

/** SRs attached on `host` (a plugged PBD there) that require particular cluster stacks. */
function constrainedSrs(db: Database, host: Ref): [Ref, readonly string[]][] {
  return entries(db, 'SR')
    .filter(([, sr]) => sr.required_cluster_stack.length > 0 && sr.PBDs.some((p) => {
      const pbd = find(db, 'PBD', p);
      return pbd?.host === host && pbd.currently_attached;
    }))
    .map(([ref, sr]) => [ref, sr.required_cluster_stack]);
}

/**
 * The stack HA will use: the requested one if it exists and every attached SR accepts it; else
 * the attached SRs' common first choice; else xhad (spec §2 "Rule").
 */
export function chooseClusterStack(db: Database, master: Ref, requested: string, stacks: ReadonlyMap<string, StackInfo>): string {
  const known = (name: string) => stacks.get(name)?.installed === true;
  const constrained = constrainedSrs(db, master);
  if (requested !== '') {
    if (!known(requested)) throw new CommandError('UNKNOWN_CLUSTER_STACK', [requested]);
    for (const [sr, required] of constrained) {
      if (!required.includes(requested)) throw new CommandError('CLUSTER_STACK_CONSTRAINT', [sr, required[0] as string]);
    }
    return requested;
  }
  let common: readonly string[] | undefined;
  for (const [sr, required] of constrained) {
    const next: readonly string[] = common === undefined ? required : common.filter((s) => required.includes(s));
    if (next.length === 0) throw new CommandError('CLUSTER_STACK_CONSTRAINT', [sr, required[0] as string]);
    common = next;
  }
  const stack = common?.[0] ?? 'xhad';
  if (!known(stack)) throw new CommandError('UNKNOWN_CLUSTER_STACK', [stack]);
  return stack;
}

/** Why an SR cannot hold the statefile for `stack`, as the XenAPI error; undefined if it can. */
function statefileProblem(db: Database, sr: Ref, info: StackInfo): CommandError | undefined {
  const rec = get(db, 'SR', sr);
  const hosts = entries(db, 'host').map(([h]) => h);
  const plugged = new Set(rec.PBDs.map((p) => find(db, 'PBD', p)).filter((p) => p?.currently_attached).map((p) => p?.host));
  if (!hosts.every((h) => plugged.has(h))) return new CommandError('SR_NO_PBDS', [sr]);
  if (!info.statefileSrTypes.includes(rec.type)) return new CommandError('INCOMPATIBLE_STATEFILE_SR', [info.statefileSrTypes.join(',')]);
  return undefined;
}

/** Every check of pool.enable_ha that applies here, in xapi's order; returns what to enable. */
export function checkEnable(db: Database, master: Ref, args: EnableArgs, ctx: EnableContext): EnablePlan {
  assertNoPoolOperation(ctx.inProgress);
  const [, pool] = poolEntry(db);
  if (pool.ha_enabled) throw new CommandError('HA_IS_ENABLED', []);
  for (const [ref] of entries(db, 'host')) if (!isLive(db, ref)) throw new CommandError('HOST_OFFLINE', [ref]);
  const stack = chooseClusterStack(db, master, args.clusterStack, ctx.stacks);
  const info = ctx.stacks.get(stack) as StackInfo;
  let sr: Ref | undefined;
  if (args.heartbeatSrs.length === 0) {
    sr = entries(db, 'SR').map(([r]) => r).find((r) => statefileProblem(db, r, info) === undefined);
    if (sr === undefined) throw new CommandError('CANNOT_CREATE_STATE_FILE', []);
  } else {
    // xapi uses only the first heartbeat SR.
    sr = args.heartbeatSrs[0] as Ref;
    const problem = statefileProblem(db, sr, info);
    if (problem) throw problem;
  }
  const t = baseTimeoutOf(args.configuration, pool.other_config, ctx.testing);
  if ('error' in t) throw new CommandError('INVALID_VALUE', ['timeout', t.value], `invalid value for configuration:timeout '${t.value}': ${t.error}`);
  return { stack, sr, timeoutMs: t.ms };
}

/**
 * PBD.plug / SR.create: two SRs that require different cluster stacks are never attached at once,
 * and while HA runs every attached SR accepts the active stack.
 */
export function assertStackCompatible(db: Database, srRequired: readonly string[], host: Ref, exceptSr?: Ref): void {
  if (srRequired.length === 0) return;
  const [, pool] = poolEntry(db);
  if (pool.ha_enabled && pool.ha_cluster_stack !== '' && !srRequired.includes(pool.ha_cluster_stack)) {
    throw new CommandError('INCOMPATIBLE_CLUSTER_STACK_ACTIVE', [srRequired.join(',')]);
  }
  for (const [sr, required] of constrainedSrs(db, host)) {
    if (sr !== exceptSr && !required.some((s) => srRequired.includes(s))) throw new CommandError('INCOMPATIBLE_CLUSTER_STACK_ACTIVE', [required.join(',')]);
  }
}
