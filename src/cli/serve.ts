import { parseArgs } from 'node:util';
import { systemClock } from '../core/clock.ts';
import { ConfigError } from '../core/errors.ts';
import { createLogger, type LogLevel } from '../core/logger.ts';
import { LivesetServer } from '../core/server.ts';
import { loadConfigFile } from '../core/config/load-config.ts';
import { SchemaValidator } from '../core/schema-validator.ts';
import { builtinLibraries } from '../hook-libs/builtin.ts';
import { versionInfo } from './runtime-info.ts';

/** `liveset serve -c FILE [--server NAME] [--log-format json|pretty]`: runs one server until signalled. */
export async function serveCli(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c' },
      server: { type: 'string', short: 's' },
      'log-format': { type: 'string' },
      'log-level': { type: 'string' },
    },
    strict: true,
  });
  if (!values.config) {
    process.stderr.write('usage: liveset serve -c FILE [--server NAME]\n');
    return 2;
  }
  let logging: { level: LogLevel; format: string } = { level: 'info', format: 'auto' };
  try {
    // Only to set up logging; LivesetServer.start reports every problem of the file.
    const loaded = loadConfigFile(values.config, process.env, new SchemaValidator(), true);
    if (loaded.problems.length === 0) logging = loaded.config.logging;
  } catch (err) {
    return reportStartFailure(err);
  }
  const format = values['log-format'] ?? logging.format;
  const name = values.server ?? 'liveset';
  const logger = createLogger({
    name,
    level: (values['log-level'] as LogLevel | undefined) ?? logging.level,
    pretty: format === 'pretty' || (format === 'auto' && process.stdout.isTTY === true),
  });
  process.on('unhandledRejection', (err) => logger.error({ msgId: 'CORE_UNHANDLED_REJECTION', err }, 'unhandled promise rejection'));

  let resolveExit: (code: number) => void = () => {};
  const exited = new Promise<number>((r) => (resolveExit = r));
  let server: LivesetServer | undefined;
  const stop = (code: number) => {
    void (server ? server.stop() : Promise.resolve()).then(() => resolveExit(code));
  };
  try {
    server = await LivesetServer.start({
      configFile: values.config,
      ...(values.server ? { serverName: values.server } : {}),
      env: process.env,
      builtins: builtinLibraries,
      clock: systemClock,
      logger,
      pid: process.pid,
      version: versionInfo(),
      onShutdownRequested: (code) => stop(code),
      // A pool host's self-fence: log lines are flushed, then the process ends without a graceful stop.
      onExitNow: (code) => {
        logger.flush();
        process.exit(code);
      },
      ...(values['log-level'] !== undefined ? { fixedLogLevel: true } : {}),
    });
  } catch (err) {
    logger.flush();
    return reportStartFailure(err);
  }
  process.once('SIGTERM', () => stop(0));
  process.once('SIGINT', () => stop(0));
  const code = await exited;
  logger.flush();
  return code;
}

function reportStartFailure(err: unknown): number {
  const lines = err instanceof ConfigError ? err.problems : [err instanceof Error ? err.message : String(err)];
  process.stderr.write(`liveset: cannot start:\n${lines.map((l) => `  ${l}`).join('\n')}\n`);
  return 1;
}
