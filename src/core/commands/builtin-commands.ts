import { ok } from './answer.ts';
import { CommandError } from '../errors.ts';
import type { CommandRegistry } from './command-registry.ts';
import type { EventBus } from '../events.ts';
import type { FaultTable, CutDirection } from '../faults.ts';
import type { Answer } from './answer.ts';

/** What the built-in commands need from the server that runs them. */
export interface BuiltinHost {
  version(): { version: string; extended: string; report: string };
  status(): Record<string, unknown>;
  configGet(): Record<string, unknown>;
  configTest(config: unknown): Promise<Answer>;
  configSet(config: unknown): Promise<Answer>;
  configReload(): Promise<Answer>;
  configWrite(filename: string | undefined, overwrite: boolean): Promise<Answer>;
  shutdown(exitValue: number): void;
  readonly events: EventBus;
  /** server.limits.subscriptions: event patterns one connection may hold. */
  readonly subscriptionLimit: () => number;
  readonly faults: FaultTable | undefined;
  /** ha-witness-probe: heartbeat a URL for an HA server and report what came back. */
  witnessProbe(args: Record<string, unknown>): Promise<Answer>;
}

const FAULT_COMMANDS = new Set(['fault-partition', 'fault-heal']);

/** Registers the core's commands, owned by 'core'. Kea's names, answer shapes and texts where Kea has them. */
export function registerBuiltins(registry: CommandRegistry, host: BuiltinHost): void {
  const reg = (name: string, handler: Parameters<CommandRegistry['register']>[0]['handler']) => registry.register({ name, handler }, 'core');

  // Only what can run: the fault-injection commands are registered always (a reload may turn the
  // feature on) but listed only while it is on.
  reg('list-commands', () => ok(undefined, host.faults ? registry.names() : registry.names().filter((n) => !FAULT_COMMANDS.has(n))));
  reg('version-get', () => {
    const v = host.version();
    return ok(v.version, { extended: v.extended });
  });
  reg('build-report', () => ok(host.version().report));
  reg('status-get', () => ok(undefined, host.status()));
  reg('config-get', () => ok(undefined, host.configGet()));
  reg('config-test', (args) => host.configTest(args));
  reg('config-set', (args) => host.configSet(args));
  reg('config-reload', () => host.configReload());
  reg('config-write', (args) => host.configWrite(args['filename'] as string | undefined, args['overwrite'] === true));
  reg('shutdown', (args) => {
    host.shutdown((args['exit-value'] as number | undefined) ?? 0);
    return ok('Shutting down.');
  });
  reg('subscribe', (args, ctx) => {
    if (!ctx.sink) throw new CommandError('SUBSCRIPTION_NEEDS_WEBSOCKET');
    return ok('Subscribed.', { events: host.events.subscribe(ctx.sink, args['events'] as string[], host.subscriptionLimit()) });
  });
  reg('unsubscribe', (args, ctx) => {
    if (!ctx.sink) throw new CommandError('SUBSCRIPTION_NEEDS_WEBSOCKET');
    return ok('Unsubscribed.', { events: host.events.unsubscribe(ctx.sink, args['events'] as string[] | undefined) });
  });
  reg('fault-partition', (args) => {
    if (!host.faults) throw new CommandError('FAULT_INJECTION_DISABLED');
    host.faults.cut(args['peers'] as string[], args['direction'] as CutDirection);
    return ok('Traffic cut.', { cuts: host.faults.describe() });
  });
  reg('ha-witness-probe', (args) => host.witnessProbe(args));
  reg('fault-heal', (args) => {
    if (!host.faults) throw new CommandError('FAULT_INJECTION_DISABLED');
    host.faults.heal(args['peers'] as string[] | undefined);
    return ok('Traffic restored.', { cuts: host.faults.describe() });
  });
}
