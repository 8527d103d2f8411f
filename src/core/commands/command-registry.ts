import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CommandError, RESULT } from '../errors.ts';
import { pointerToPath, type SchemaProblem, type SchemaValidator } from '../schema-validator.ts';
import type { CalloutRegistry } from '../hooks/callouts.ts';
import type { Answer } from './answer.ts';
import type { CommandContext, CommandHandler, CommandSchema, CommandSpec } from './command.ts';
import { errorAnswer } from './error-answer.ts';

export interface RegisteredCommand {
  readonly name: string;
  readonly owner: string;
  readonly schema: CommandSchema;
  readonly validate: (value: unknown) => SchemaProblem[];
  readonly handler: CommandHandler;
}

/** A command as it arrives from any transport, before validation. */
export interface CommandRequest {
  readonly command: string;
  /** An object of named arguments, or (XenAPI style) an array of positional ones. */
  readonly arguments?: unknown;
}

/**
 * Register, compile, freeze: commands and their schemas are registered and compiled while the
 * server starts; after freeze() nothing changes until the next (re)load builds a new registry.
 * Backed by a Map so no inherited key ("constructor", "toString") can ever resolve to a command.
 */
export class CommandRegistry {
  private readonly commands = new Map<string, RegisteredCommand>();
  private frozen = false;
  /** Built-in commands whose schemas are not compiled yet (see register). */
  private readonly uncompiled: (() => void)[] = [];

  constructor(
    private readonly validator: SchemaValidator,
    private readonly schemaDir: string,
    private readonly callouts: CalloutRegistry,
  ) {}

  register(spec: CommandSpec, owner: string): void {
    if (this.frozen) throw new Error(`cannot register '${spec.name}' (${owner}): the command registry is frozen`);
    const existing = this.commands.get(spec.name);
    if (existing) throw new Error(`command '${spec.name}' registered twice: by ${existing.owner} and by ${owner}`);
    const schema = spec.schema ?? this.loadSchema(spec.name, owner);
    const compile = () => {
      try {
        return this.validator.compile(schema.arguments);
      } catch (err) {
        throw new Error(`command '${spec.name}' (${owner}): invalid arguments schema: ${(err as Error).message}`);
      }
    };
    // A library's inline schema is compiled now, so a bad one stops the library loading. The
    // schemas/commands/ files (built-in commands; the build compiles every one into
    // dist/validators/) are loaded on first use: compiling all of them was most of a server's
    // start-up time. Those that must still be compiled by ajv (running from the sources, or a
    // schema edited since the build) are compiled after the server answers (compilePending), so
    // that a command's first call (a peer's, with a short timeout) does not pay for it.
    let compiled = spec.schema ? compile() : undefined;
    const validate = (value: unknown) => (compiled ??= compile())(value);
    if (!compiled) this.uncompiled.push(() => void (this.validator.isPrecompiled(schema.arguments) || (compiled ??= compile())));
    this.commands.set(spec.name, { name: spec.name, owner, schema, validate, handler: spec.handler });
  }

  /**
   * Compiles the schemas still waiting that have no precompiled validator, one per event-loop
   * turn, so that requests are served in between.
   */
  compilePending(): void {
    const next = this.uncompiled.shift();
    if (!next) return;
    try {
      next();
    } catch {
      // reported by the command's first call
    }
    setImmediate(() => this.compilePending());
  }

  removeOwner(owner: string): void {
    for (const [name, cmd] of this.commands) if (cmd.owner === owner) this.commands.delete(name);
  }

  freeze(): void {
    this.frozen = true;
  }

  /** Opens the registry again while a reload restarts a library (no request runs in between). */
  thaw(): void {
    this.frozen = false;
  }

  names(): string[] {
    return [...this.commands.keys()].sort();
  }

  get(name: string): RegisteredCommand | undefined {
    return this.commands.get(name);
  }

  /**
   * Validates and runs one command. Never throws: every failure becomes an answer, because a
   * transport must always have something to send back.
   */
  async dispatch(request: CommandRequest, ctx: CommandContext): Promise<Answer> {
    const cmd = this.commands.get(request.command);
    if (!cmd) return errorAnswer(new CommandError(ctx.positional ? 'MESSAGE_METHOD_UNKNOWN' : 'COMMAND_UNSUPPORTED', [request.command]));
    const kind = cmd.schema.caller;
    if (kind !== undefined && ctx.caller !== undefined && !(kind === 'peer' ? ctx.caller.peer(cmd.owner) : ctx.caller.operator)) {
      ctx.logger.warn(
        { msgId: 'CORE_CALLER_REFUSED', command: cmd.name, needs: kind, user: ctx.user, remoteAddress: ctx.remoteAddress, transport: ctx.transport },
        `${cmd.name} refused: only ${kind === 'peer' ? 'a peer' : 'an operator'} may call it`,
      );
      return errorAnswer(new CommandError('PERMISSION_DENIED', [cmd.name, kind]));
    }
    const args = toNamedArguments(cmd, request.arguments, ctx.positional);
    if (!('named' in args)) return errorAnswer(args.error);
    let problems: SchemaProblem[];
    try {
      problems = cmd.validate(args.named);
    } catch (err) {
      return this.failure(cmd.name, err, ctx);
    }
    if (problems.length > 0) {
      const lines = problems.map((p) => `${pointerToPath('arguments', p.pointer)}: ${p.message}`);
      return errorAnswer(new CommandError('INVALID_ARGUMENTS', lines, lines.join('; ')));
    }
    const bag: Record<string, unknown> = { command: cmd.name, arguments: args.named, context: ctx };
    try {
      if (this.callouts.has('command_received')) {
        const status = await this.callouts.run('command_received', bag);
        if (status === 'drop') return errorAnswer(new CommandError('OPERATION_NOT_ALLOWED', [cmd.name], `command '${cmd.name}' refused by a hook library`));
        if (status === 'skip') return (bag['response'] as Answer | undefined) ?? { result: RESULT.SUCCESS };
      }
      bag['response'] = await cmd.handler(bag['arguments'] as Record<string, unknown>, ctx);
    } catch (err) {
      bag['response'] = this.failure(cmd.name, err, ctx);
    }
    if (this.callouts.has('command_processed')) {
      try {
        await this.callouts.run('command_processed', bag);
      } catch (err) {
        return this.failure(cmd.name, err, ctx);
      }
    }
    return bag['response'] as Answer;
  }

  private failure(name: string, err: unknown, ctx: CommandContext): Answer {
    if (err instanceof CommandError) return errorAnswer(err);
    ctx.logger.error({ msgId: 'CORE_COMMAND_FAILED', command: name, err }, `command ${name} failed`);
    const message = err instanceof Error ? err.message : String(err);
    return errorAnswer(new CommandError('INTERNAL_ERROR', [message], `${name} failed: ${message}`));
  }

  private loadSchema(name: string, owner: string): CommandSchema {
    const file = join(this.schemaDir, `${name}.json`);
    let schema: CommandSchema;
    try {
      schema = JSON.parse(readFileSync(file, 'utf8')) as CommandSchema;
    } catch (err) {
      throw new Error(`command '${name}' (${owner}): cannot load its schema ${file}: ${(err as Error).message}`);
    }
    if (typeof schema.arguments !== 'object' || schema.arguments === null) {
      throw new Error(`command '${name}' (${owner}): schema ${file} has no "arguments" schema`);
    }
    return schema;
  }
}

/**
 * Maps XenAPI positional params onto the names the command's schema lists in `positional`.
 *
 * On the Kea channel (`positional` false) `arguments` may be anything, as Kea's parseCommand lets
 * it through and each handler decides (Kea 2.2, `src/bin/dhcp4/ctrl_dhcp4_srv.cc`,
 * `src/hooks/dhcp/high_availability/ha_impl.cc`): handlers that take no arguments ignore a value
 * that is not a map, the others refuse it with result 1 (`arguments in the 'ha-scopes' command
 * are not a map`). A list still maps onto a schema's positional names.
 */
function toNamedArguments(cmd: RegisteredCommand, raw: unknown, positional: boolean): { named: Record<string, unknown> } | { error: CommandError } {
  if (raw === undefined || raw === null) return { named: {} };
  const notMap = typeof raw !== 'object' || (Array.isArray(raw) && !cmd.schema.positional);
  if (!positional && notMap) {
    if (takesNoArguments(cmd.schema)) return { named: {} };
    const text = `arguments in the '${cmd.name}' command are not a map`;
    return { error: new CommandError('INVALID_ARGUMENTS', ['arguments: must be an object'], text) };
  }
  if (Array.isArray(raw)) {
    const names = cmd.schema.positional;
    if (!names) {
      return { error: new CommandError('INVALID_ARGUMENTS', ['arguments: must be an object'], `arguments: '${cmd.name}' takes named arguments (an object), not a list`) };
    }
    if (raw.length > names.length) {
      return { error: new CommandError('MESSAGE_PARAMETER_COUNT_MISMATCH', [cmd.name, String(names.length), String(raw.length)]) };
    }
    const named: Record<string, unknown> = {};
    raw.forEach((v, i) => {
      named[names[i] as string] = v;
    });
    return { named };
  }
  if (typeof raw !== 'object') {
    return { error: new CommandError('INVALID_ARGUMENTS', ['arguments: must be an object'], 'arguments: must be an object') };
  }
  return { named: raw as Record<string, unknown> };
}

/** A command whose schema names no argument (list-commands, status-get, version-get, …). */
function takesNoArguments(schema: CommandSchema): boolean {
  const props = (schema.arguments as { properties?: Record<string, unknown> }).properties;
  return schema.positional === undefined && (props === undefined || Object.keys(props).length === 0);
}
