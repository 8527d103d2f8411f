import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ok } from './commands/answer.ts';
import type { Answer } from './commands/answer.ts';
import { registerBuiltins, type BuiltinHost } from './commands/builtin-commands.ts';
import { CommandRegistry, type CommandRequest } from './commands/command-registry.ts';
import type { CommandContext } from './commands/command.ts';
import { errorAnswer } from './commands/error-answer.ts';
import { loadConfigFile, loadConfigText } from './config/load-config.ts';
import { isOpenToTheNetwork, prepareConfig, type PreparedConfig } from './config/prepare-config.ts';
import type { LivesetConfig } from './config/config-types.ts';
import { CommandError, ConfigError } from './errors.ts';
import { EventBus } from './events.ts';
import { FaultTable } from './faults.ts';
import { CalloutRegistry } from './hooks/callouts.ts';
import { HooksManager, type HandleFactory } from './hooks/hooks-manager.ts';
import type { LibraryHandle } from './hooks/hook-library.ts';
import { describeCluster, resolveLibraries, type BuiltinLibraries, type ResolvedLibrary } from './hooks/library-resolution.ts';
import type { LoadedConfig } from './config/config-types.ts';
import type { Clock } from './clock.ts';
import type { Logger } from './logger.ts';
import { callPeer, peerCaller } from './peer-client.ts';
import { SchemaValidator } from './schema-validator.ts';
import { WitnessDesk } from './witness-probe.ts';
import { redactSecrets, SECRET_KEY } from './redact.ts';
import { lockedChanges } from './config/locked-fields.ts';
import { planReload } from './reload-plan.ts';
import { ControlServer, type ControlServerOptions, type TransportSettings } from '../transports/control-server.ts';
import { BasicAuth, type Credential } from '../transports/basic-auth.ts';
import { fileStoreFactory } from '../store/file-store.ts';
import { ServerMetrics } from '../metrics/server-metrics.ts';
import { timedMedium } from '../metrics/timed-medium.ts';
import { OperatorRoutes } from '../operator/operator-routes.ts';
import { registerOperatorCommands } from '../operator/operator-commands.ts';
import type { StoreFactory } from '../store/store.ts';

const COMMAND_SCHEMA_DIR = fileURLToPath(new URL('../../schemas/commands/', import.meta.url));

export interface ServerOptions {
  readonly configFile: string;
  readonly serverName?: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly builtins: BuiltinLibraries;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly pid: number;
  readonly version: { version: string; extended: string; report: string };
  /** Called after a `shutdown` command has been answered; the caller stops the server and exits. */
  readonly onShutdownRequested: (exitValue: number) => void;
  /** Ends the process at once (a library's self-fence); without it libraries get no exitProcess. */
  readonly onExitNow?: (code: number) => void;
  /** The log level was set on the command line: a reload leaves it alone. */
  readonly fixedLogLevel?: boolean;
}

/** Everything that a (re)load replaces as one unit. */
interface Runtime {
  readonly prepared: PreparedConfig;
  readonly registry: CommandRegistry;
  readonly callouts: CalloutRegistry;
  readonly stores: StoreFactory;
  readonly status: Map<string, () => unknown>;
  readonly hooks: HooksManager;
  readonly faults: FaultTable | undefined;
  readonly settings: TransportSettings;
  readonly loadedAtMs: number;
  /** Peer credentials the libraries registered (pool secret, HA relationship credentials). */
  readonly peerCredentials: Credential[];
}

/**
 * Lifecycle: validate the configuration → load libraries (registering commands, callouts, status)
 * → freeze the registry → listen. Reload builds a new runtime the same way and swaps it in; a
 * configuration that fails validation never touches the running one.
 */
export class LivesetServer {
  private readonly validator = new SchemaValidator();
  private readonly events = new EventBus();
  private readonly witnessDesk: WitnessDesk;
  private runtime!: Runtime;
  private transport!: ControlServer;
  /** What every listener of this server shares (routes, settings, TLS); see LibraryHandle.openListener. */
  private listenerOptions!: Omit<ControlServerOptions, 'host' | 'port'>;
  private selfUrl = '';
  private readonly startedAtMs: number;
  private stopping: Promise<void> | undefined;
  private applying: Promise<unknown> = Promise.resolve();
  /** Lives as long as the process's server, across reloads, so counters never go back. */
  private readonly metrics: ServerMetrics;
  /** Loggers handed to libraries, so a reload can change their level too. */
  private readonly libraryLoggers = new Set<Logger>();

  private constructor(private readonly opts: ServerOptions) {
    this.startedAtMs = opts.clock.monotonicMs();
    this.witnessDesk = new WitnessDesk(opts.clock);
    this.metrics = new ServerMetrics({
      status: () => this.builtinHost(this.runtime.faults, this.runtime.prepared.serverName).status(),
      poolLiveness: () => this.poolLiveness(),
      webSockets: () => this.transport.webSocketCount,
      subscriptions: () => this.events.size,
    });
  }

  /**
   * Checks a configuration file end to end (`check-config`, `liveset up`): for the named server, or
   * for every member a cluster file describes. Throws ConfigError with every problem, each once.
   */
  static async check(file: string, serverName: string | undefined, env: ServerOptions['env'], builtins: BuiltinLibraries): Promise<PreparedConfig[]> {
    const validator = new SchemaValidator();
    const loaded = loadConfigFile(file, env, validator, true);
    const names = serverName !== undefined ? [serverName] : await membersToCheck(loaded, builtins);
    const results: PreparedConfig[] = [];
    const problems: string[] = [];
    for (const name of names) {
      try {
        results.push(await prepareConfig(loaded, name, builtins, validator));
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        for (const p of err.problems) if (!problems.includes(p)) problems.push(p);
      }
    }
    if (problems.length > 0) throw new ConfigError(problems);
    return results;
  }

  static async start(opts: ServerOptions): Promise<LivesetServer> {
    const server = new LivesetServer(opts);
    const loaded = loadConfigFile(opts.configFile, opts.env, server.validator, true);
    const prepared = await prepareConfig(loaded, opts.serverName, opts.builtins, server.validator);
    server.selfUrl = prepared.listen.href;
    server.listenerOptions = {
      settings: () => server.runtime.settings,
      maxPayload: prepared.loaded.config.server['body-limit'],
      ...(prepared.tls ? { tls: prepared.tls } : {}),
      dispatch: (request, ctx) => server.dispatch(request, ctx),
      events: server.events,
      logger: opts.logger,
      extraRoutes: new OperatorRoutes({
        serverName: () => server.runtime.prepared.serverName,
        selfUrl: () => server.selfUrl,
        members: () => describeCluster(server.runtime.prepared.libs).members,
        dispatch: (command, args, user) => server.dispatch({ command, arguments: args }, { transport: 'internal', positional: false, ...(user ? { user } : {}) }),
        metrics: server.metrics,
        logger: opts.logger,
      }),
    };
    server.transport = new ControlServer({ host: listenHost(prepared.listen), port: Number(prepared.listen.port || 80), ...server.listenerOptions });
    // Register, compile, freeze, then listen: no request can see a half-built registry. Libraries
    // learn their URL from the configuration (port 0 is only for a lone server with no peers).
    server.runtime = await server.buildRuntime(prepared);
    const port = await server.transport.listen().catch(async (err: unknown) => {
      await server.runtime.hooks.unloadAll();
      throw err;
    });
    server.selfUrl = `${prepared.listen.protocol}//${prepared.listen.host.replace(/:\d+$/, '')}:${port}/`;
    if (prepared.loaded.config.server.insecure && isOpenToTheNetwork(prepared.listen.hostname) && !prepared.loaded.config.server.authentication) {
      opts.logger.warn(
        { msgId: 'CORE_INSECURE', url: server.selfUrl },
        `insecure: true: listening on ${server.selfUrl} without authentication; anyone who can reach this port may run every command`,
      );
    }
    opts.logger.info(
      { msgId: 'CORE_LISTENING', url: server.selfUrl, server: prepared.serverName, libraries: server.runtime.hooks.names() },
      `${prepared.serverName} listening on ${server.selfUrl}`,
    );
    return server;
  }

  /** Runs a command as if it arrived on a transport. */
  async dispatch(request: CommandRequest, ctx: Omit<CommandContext, 'logger'>): Promise<Answer> {
    const started = performance.now();
    const registry = this.runtime.registry;
    const answer = this.stopping && request.command !== 'status-get'
      ? errorAnswer(new CommandError('SHUTTING_DOWN'))
      : await registry.dispatch(request, { ...ctx, logger: this.opts.logger });
    // Only registered names become labels: a client sending random names must not grow the metrics.
    const name = registry.get(request.command) ? request.command : 'unknown';
    this.metrics.commandDone(name, ctx.transport, answer.result, (performance.now() - started) / 1000);
    return answer;
  }

  /** Graceful stop: stop listening, let in-flight commands finish, unload libraries in reverse. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.opts.logger.info({ msgId: 'CORE_STOPPING' }, 'stopping');
      await this.transport.close(this.runtime.prepared.loaded.config.server['shutdown-grace-ms']);
      await this.runtime.hooks.unloadAll();
      this.opts.logger.info({ msgId: 'CORE_STOPPED' }, 'stopped');
    })();
    return this.stopping;
  }

  private async buildRuntime(prepared: PreparedConfig): Promise<Runtime> {
    const config = prepared.loaded.config;
    const callouts = new CalloutRegistry();
    const registry = new CommandRegistry(this.validator, COMMAND_SCHEMA_DIR, callouts);
    const status = new Map<string, () => unknown>();
    const hooks = new HooksManager(registry, callouts, (keys) => { for (const k of keys) status.delete(k); }, this.opts.logger);
    const faults = config.testing['fault-injection'] ? new FaultTable() : undefined;
    registerBuiltins(registry, this.builtinHost(faults, prepared.serverName));
    registerOperatorCommands(registry);
    const stores = fileStoreFactory(
      prepared.dataDir,
      (name, medium) => timedMedium(name, medium, (...a) => this.metrics.storeSynced(...a)),
      this.opts.logger.child({ lib: 'store' }),
    );
    const peerCredentials: Credential[] = [];
    await hooks.loadAll(prepared.libs, this.handleFactory(prepared, { registry, callouts, status, faults, stores, peerCredentials }));
    registry.freeze();
    // Built-in schemas compile in the background once this turn (listen, on start) is done.
    setImmediate(() => registry.compilePending());
    return {
      prepared,
      registry,
      callouts,
      stores,
      status,
      hooks,
      faults,
      loadedAtMs: this.opts.clock.monotonicMs(),
      settings: this.settingsOf(prepared, faults, peerCredentials),
      peerCredentials,
    };
  }

  private settingsOf(prepared: PreparedConfig, faults: FaultTable | undefined, peerCredentials: readonly Credential[]): TransportSettings {
    const config = prepared.loaded.config;
    const realm = config.server.authentication?.realm ?? 'liveset';
    return {
      bodyLimit: config.server['body-limit'],
      limits: config.server.limits,
      services: config.server.services,
      http: config.server.control.http,
      websocket: config.server.control.websocket,
      ui: config.server.control.ui,
      metrics: config.server.control.metrics,
      metricsOpenOnLoopback: config.server.control['metrics-unauthenticated-loopback'],
      auth: new BasicAuth(realm, prepared.authClients, () => peerCredentials),
      onRefused: (remoteAddress, user) => this.logRefused(remoteAddress, user),
      ...(faults ? { dropFrom: (peer: string) => faults.isCut(peer, 'in') } : {}),
    };
  }

  /** The handle each library of `prepared` gets, wired to one runtime's registries. */
  private handleFactory(prepared: PreparedConfig, rt: Pick<Runtime, 'registry' | 'callouts' | 'status' | 'faults' | 'stores' | 'peerCredentials'>): HandleFactory {
    const { registry, callouts, status, faults, stores, peerCredentials } = rt;
    return (lib, footprint): LibraryHandle => {
      const owner = lib.library.name;
      const logger = this.opts.logger.child({ lib: owner });
      this.libraryLoggers.add(logger);
      // Peer calls still in flight when the library is gone are aborted, not left to time out.
      const unloaded = new AbortController();
      footprint.cleanups.push(() => unloaded.abort(), () => this.libraryLoggers.delete(logger));
      return {
        parameters: lib.parameters,
        serverName: prepared.serverName,
        selfUrl: this.selfUrl,
        configDir: prepared.loaded.source.dir,
        ...(prepared.tls ? { listenerTls: { certRequired: prepared.tls.certRequired } } : {}),
        clock: this.opts.clock,
        logger,
        stores,
        ...(faults ? { faults } : {}),
        callPeer: (() => {
          const call = peerCaller(prepared.serverName, faults, logger, unloaded.signal);
          return async (peer, command, args, timeoutMs) => {
            const started = performance.now();
            let answered = false;
            try {
              const answer = await call(peer, command, args, timeoutMs);
              answered = true;
              return answer;
            } finally {
              this.metrics.peerCallDone(peer.name, command, answered, (performance.now() - started) / 1000);
            }
          };
        })() as LibraryHandle['callPeer'],
        openListener: async (url) => {
          const at = new URL(url);
          if ((at.protocol === 'https:') !== (prepared.tls !== undefined)) {
            throw new Error(`cannot listen on ${url}: this server's listener is ${prepared.tls ? 'https (server.tls)' : 'plain http'}`);
          }
          const extra = new ControlServer({ host: listenHost(at), port: Number(at.port || 80), ...this.listenerOptions });
          await extra.listen();
          let open = true;
          const close = async () => {
            if (open) (open = false), await extra.close(0);
          };
          footprint.cleanups.push(() => void close());
          return { close };
        },
        registerCommand: (spec) => registry.register(spec, owner),
        registerPeerCredential: (user, password) => {
          const credential: Credential = { user, password, owner };
          peerCredentials.push(credential);
          footprint.cleanups.push(() => {
            const i = peerCredentials.indexOf(credential);
            if (i >= 0) peerCredentials.splice(i, 1);
          });
        },
        registerCallout: (point, fn) => callouts.add(point, owner, fn),
        registerStatus: (key, fn) => {
          if (status.has(key)) throw new Error(`status-get section '${key}' is already provided by another library`);
          status.set(key, fn);
          footprint.statusKeys.add(key);
        },
        runCallouts: (point, args) => callouts.run(point, args),
        ...(this.opts.onExitNow ? { exitProcess: this.opts.onExitNow } : {}),
        publish: (event, data) => {
          this.events.publish(event, data);
          this.metrics.onEvent(event, data);
        },
        dispatch: (command, args, ctx) =>
          this.dispatch({ command, arguments: structuredClone(args) }, { transport: 'internal', positional: false, ...ctx }),
      };
    };
  }

  /**
   * Applies a new configuration. Everything is validated first, so a bad one changes nothing.
   * When the libraries and their context are the same (see planReload), libraries keep running:
   * unchanged ones are not touched, changed ones get their new parameters or are restarted alone.
   * Otherwise every library unloads (they hold timers and store files the new ones will open) and
   * the new set loads. A failure rolls back to the running configuration and the answer says why;
   * a failed rollback stops the server with an error rather than run without its libraries.
   */
  private apply(load: () => ReturnType<typeof loadConfigFile>, what: string): Promise<Answer> {
    // One (re)configuration at a time: two interleaved reloads would unload the same libraries twice.
    const run = this.applying.then(() => this.applyNow(load, what));
    this.applying = run.catch(() => undefined);
    return run;
  }

  private async applyNow(load: () => ReturnType<typeof loadConfigFile>, what: string): Promise<Answer> {
    let prepared: PreparedConfig;
    try {
      prepared = await prepareConfig(load(), this.opts.serverName, this.opts.builtins, this.validator);
    } catch (err) {
      return this.applyFailed(what, err);
    }
    if (prepared.listen.href !== this.runtime.prepared.listen.href) {
      this.opts.logger.warn({ msgId: 'CORE_LISTEN_UNCHANGED', listen: prepared.listen.href }, 'a new listen address takes effect at the next restart');
    }
    const previous = this.runtime;
    const plan = planReload(previous.prepared, prepared);
    try {
      if (plan.kind === 'in-place') await this.reconfigureInPlace(previous, prepared, plan.changed);
      else await this.rebuild(previous, prepared, plan.reason);
    } catch (err) {
      return this.applyFailed(what, err);
    }
    this.applyLogLevel(prepared);
    this.opts.logger.info({ msgId: 'CORE_CONFIG_APPLIED', source: what, libraries: plan.kind === 'in-place' ? 'kept' : 'reloaded' }, 'configuration applied');
    return ok('Configuration successful.');
  }

  /** Same libraries: offer the changed ones their parameters, restart those that decline. */
  private async reconfigureInPlace(rt: Runtime, prepared: PreparedConfig, changed: readonly ResolvedLibrary[]): Promise<void> {
    const old = (lib: ResolvedLibrary) => rt.prepared.libs.find((l) => l.library === lib.library) as ResolvedLibrary;
    const applied: ResolvedLibrary[] = [];
    const restart: ResolvedLibrary[] = [];
    try {
      for (const lib of changed) {
        if (lib.library.reconfigure !== undefined && (await lib.library.reconfigure(lib.parameters))) applied.push(lib);
        else restart.push(lib);
      }
      const order = prepared.libs.map((l) => l.library.name);
      if (restart.length > 0) await rt.hooks.restart(restart, order, this.handleFactory(prepared, rt));
    } catch (err) {
      await this.rollBack(async () => {
        for (const lib of applied) await lib.library.reconfigure?.(old(lib).parameters);
        if (restart.length > 0) await rt.hooks.restart(restart.map(old), rt.prepared.libs.map((l) => l.library.name), this.handleFactory(rt.prepared, rt));
      });
      throw err;
    }
    this.runtime = { ...rt, prepared, settings: this.settingsOf(prepared, rt.faults, rt.peerCredentials), loadedAtMs: this.opts.clock.monotonicMs() };
    for (const lib of [...applied, ...restart]) {
      this.opts.logger.info({ msgId: 'CORE_LIBRARY_RECONFIGURED', library: lib.library.name, restarted: restart.includes(lib) }, `library ${lib.library.name} has its new parameters`);
    }
  }

  /** Different libraries or context: unload all, load the new set. */
  private async rebuild(rt: Runtime, prepared: PreparedConfig, reason: string): Promise<void> {
    this.opts.logger.info({ msgId: 'CORE_LIBRARIES_RELOADING', reason }, `reloading every library: ${reason}`);
    await rt.hooks.unloadAll();
    try {
      this.runtime = await this.buildRuntime(prepared);
    } catch (err) {
      await this.rollBack(async () => {
        this.runtime = await this.buildRuntime(rt.prepared);
      });
      throw err;
    }
  }

  /** Restores the running configuration after a failed apply; if even that fails, the server stops. */
  private async rollBack(restore: () => Promise<void>): Promise<void> {
    try {
      await restore();
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.opts.logger.fatal(
        { msgId: 'CORE_ROLLBACK_FAILED', err },
        `the new configuration failed and the running one could not be restored (${reason}); stopping rather than run without libraries`,
      );
      this.opts.onShutdownRequested(1);
      throw new Error(`rollback failed: ${reason}; the server is stopping`);
    }
  }

  /** The configuration's log level, unless the command line fixed one. */
  private applyLogLevel(prepared: PreparedConfig): void {
    if (this.opts.fixedLogLevel === true) return;
    const level = prepared.loaded.config.logging.level;
    if (this.opts.logger.level === level) return;
    this.opts.logger.level = level;
    for (const child of this.libraryLoggers) child.level = level;
  }

  private applyFailed(what: string, err: unknown): Answer {
    const lines = err instanceof ConfigError ? [...err.problems] : [err instanceof Error ? err.message : String(err)];
    this.opts.logger.error({ msgId: 'CORE_CONFIG_REJECTED', source: what, problems: lines }, 'configuration rejected; the running configuration stays');
    return errorAnswer(new CommandError('CONFIG_INVALID', lines, `${what} failed; the running configuration is unchanged: ${lines.join('; ')}`));
  }

  private builtinHost(faults: FaultTable | undefined, serverName: string): BuiltinHost {
    // A configuration sent over the API may not name new code or files (checked before anything is
    // imported): those change only with the file and config-reload, as an operator with a shell does.
    const textLoader = (config: unknown, command: string) => () => {
      const loaded = loadConfigText(JSON.stringify(config), `${basename(this.opts.configFile)} (from command)`, this.runtime.prepared.loaded.source.dir, this.opts.env, this.validator, true);
      const locked = lockedChanges(this.runtime.prepared.loaded.config, this.runtime.prepared.libs, loaded.config, command);
      if (locked.length > 0) throw new ConfigError(locked);
      return loaded;
    };
    return {
      events: this.events,
      subscriptionLimit: () => this.runtime.prepared.loaded.config.server.limits.subscriptions,
      faults,
      witnessProbe: (args) => this.witnessDesk.probe(args, (peer, command, a, timeoutMs) => callPeer(serverName, faults, peer, command, a, timeoutMs)),
      version: () => this.opts.version,
      status: () => {
        const rt = this.runtime;
        const now = this.opts.clock.monotonicMs();
        const sections: Record<string, unknown> = {};
        for (const [key, fn] of rt.status) {
          // One library's failing section must not blind the operator to the others.
          try {
            sections[key] = fn();
          } catch (err) {
            sections[key] = { error: `status of ${key} failed: ${(err as Error).message}` };
            this.opts.logger.error({ msgId: 'CORE_STATUS_SECTION_FAILED', section: key, err }, `status-get: the ${key} section failed`);
          }
        }
        // Servers this one refuses as HA witness callers, and for how many more ms.
        const fences = this.witnessDesk.describe();
        if (Object.keys(fences).length > 0) sections['witness-fences'] = fences;
        // Kea 2.2's top-level keys and types (src/bin/dhcp4/ctrl_dhcp4_srv.cc commandStatusGetHandler):
        // pid, uptime, reload, multi-threading-enabled (liveset runs one event loop: false) and
        // sockets.status ("ready": the listener answering this command is bound). Then liveset's own.
        return {
          pid: this.opts.pid,
          uptime: Math.floor((now - this.startedAtMs) / 1000),
          reload: Math.floor((now - rt.loadedAtMs) / 1000),
          'multi-threading-enabled': false,
          sockets: { status: 'ready' },
          server: rt.prepared.serverName,
          url: this.selfUrl,
          libraries: rt.hooks.names(),
          ...sections,
        };
      },
      configGet: () => {
        const config = this.runtime.prepared.loaded.config;
        return { ...(redactSecrets(config) as Record<string, unknown>), hash: configHash(config) };
      },
      configTest: async (config) => {
        try {
          const prepared = await prepareConfig(textLoader(config, 'config-test')(), this.opts.serverName, this.opts.builtins, this.validator);
          // Kea's text; settings a library accepts but ignores are named after it.
          return ok(prepared.warnings.length === 0 ? 'Configuration seems sane.' : `Configuration seems sane. Warnings: ${prepared.warnings.join('; ')}`);
        } catch (err) {
          return this.applyFailed('config-test', err);
        }
      },
      configSet: (config) => this.apply(textLoader(config, 'config-set'), 'config-set'),
      configReload: () => this.apply(() => loadConfigFile(this.opts.configFile, this.opts.env, this.validator, true), 'config-reload'),
      configWrite: (filename, overwrite) => this.writeConfig(filename, overwrite),
      shutdown: (exitValue) => {
        // Let the answer leave before the listener closes.
        this.opts.clock.setTimer(10, () => this.opts.onShutdownRequested(exitValue));
      },
    };
  }

  private readonly refusedLogged = new Map<string, number>();

  /** A refused credential, logged at warn once a minute per address and user (a peer retries often). */
  private logRefused(remoteAddress: string | undefined, user: string | undefined): void {
    const key = `${remoteAddress ?? '?'} ${user ?? ''}`;
    const now = this.opts.clock.monotonicMs();
    const last = this.refusedLogged.get(key);
    if (last !== undefined && now - last < 60_000) return;
    if (this.refusedLogged.size > 1000) this.refusedLogged.clear();
    this.refusedLogged.set(key, now);
    this.opts.logger.warn({ msgId: 'CORE_AUTH_REFUSED', remoteAddress, user }, `refused a ${user === undefined ? 'request without a valid credential' : `wrong credential for user '${user}'`} from ${remoteAddress ?? 'unknown'}`);
  }

  /** Pool liveness by host name when this host is the pool master (what /metrics reports per host). */
  private async poolLiveness(): Promise<Record<string, boolean> | undefined> {
    const internal = { transport: 'internal' as const, positional: false, logger: this.opts.logger };
    const registry = this.runtime.registry;
    if (!registry.get('host.get_all_records')) return undefined;
    const hosts = await registry.dispatch({ command: 'host.get_all_records' }, internal);
    const metrics = await registry.dispatch({ command: 'host_metrics.get_all_records' }, internal);
    if (hosts.result !== 0 || metrics.result !== 0) return undefined;
    const m = metrics.arguments as Record<string, { live?: boolean }>;
    return Object.fromEntries(
      Object.values(hosts.arguments as Record<string, { name_label: string; metrics: string }>).map((h) => [h.name_label, m[h.metrics]?.live === true]),
    );
  }

  /**
   * Writes the running configuration in its own form: as the file (or config-set) gave it, with
   * `${VAR}` references kept rather than their values, so no secret from the environment lands on
   * disk. A secret written literally in the configuration makes config-write refuse. The file is
   * created with mode 0600 (it describes the credentials), written whole to a temporary file,
   * synced and renamed over the target, and the running file is replaced only with `overwrite`.
   */
  private async writeConfig(filename: string | undefined, overwrite: boolean): Promise<Answer> {
    const running = resolve(this.opts.configFile);
    const dir = dirname(running);
    const target = resolve(dir, filename ?? basename(running));
    // Like Kea 2.6+, only inside the configuration's own directory: a remote caller must not be able
    // to write arbitrary files.
    if (dirname(target) !== dir) {
      throw new CommandError('INVALID_ARGUMENTS', ['arguments.filename'], `arguments.filename: must name a file in ${dir}`);
    }
    if (target === running && !overwrite) {
      throw new CommandError('INVALID_ARGUMENTS', ['arguments.filename'], `arguments.filename: ${target} is the running configuration file; pass "overwrite": true to replace it, or name another file`);
    }
    const raw = this.runtime.prepared.loaded.raw;
    const literal = literalSecrets(raw);
    if (literal.length > 0) {
      throw new CommandError('OPERATION_NOT_ALLOWED', literal, `config-write refuses to write secrets in clear: ${literal.join(', ')} ${literal.length === 1 ? 'holds' : 'hold'} a literal secret; use \${VAR} or a password file in the configuration`);
    }
    // yaml is loaded here, not at start: a server whose configuration is JSON may never need it.
    const text = target.endsWith('.json') ? `${JSON.stringify(raw, null, 2)}\n` : (await import('yaml')).default.stringify(raw);
    const tmp = `${target}.tmp-${this.opts.pid}`;
    mkdirSync(dir, { recursive: true });
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeFileSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    chmodSync(tmp, 0o600);
    renameSync(tmp, target);
    const dirFd = openSync(dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
    return ok(`Configuration written to ${target} successfully`, { filename: target, size: Buffer.byteLength(text) });
  }
}

/** Paths of secret keys (password, secret, token) whose value is written out rather than a ${VAR} reference. */
function literalSecrets(value: unknown, path = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => literalSecrets(v, `${path}[${i}]`));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => {
    const here = path === '' ? k : `${path}.${k}`;
    if (typeof v === 'string' && SECRET_KEY.test(k) && !k.endsWith('-file')) return /\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}/.test(v) && !/^\$\{[A-Za-z_][A-Za-z0-9_]*:-/.test(v) ? [] : [here];
    return literalSecrets(v, here);
  });
}

/** The servers a file asks to be checked as: the one it names as "this", else every member, else one default. */
async function membersToCheck(loaded: LoadedConfig, builtins: BuiltinLibraries): Promise<(string | undefined)[]> {
  if (loaded.problems.length > 0 || loaded.config.server.name !== undefined) return [undefined];
  const { libs } = await resolveLibraries(loaded.config, loaded.source.dir, builtins);
  const cluster = describeCluster(libs);
  if (cluster.thisServer !== undefined || cluster.members.length === 0) return [undefined];
  return cluster.members.map((m) => m.name);
}

function configHash(config: LivesetConfig): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('hex').toUpperCase();
}

/** The host part of a listen URL as node's listen() wants it (IPv6 without brackets). */
function listenHost(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '');
}
