import { createRequire } from 'node:module';
import type { DestinationStream, Logger as PinoLogger } from 'pino';

// pino is CommonJS: required rather than imported, so Node does not also run its ES-module
// interop on every start (cjs-module-lexer parsing pino.js to find its named exports).
const { pino } = createRequire(import.meta.url)('pino') as typeof import('pino');

export type Logger = PinoLogger;
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

export interface LoggerOptions {
  readonly level: LogLevel;
  readonly name: string;
  /** Human-readable lines (pino-pretty) when writing to a terminal; JSON lines otherwise. */
  readonly pretty: boolean;
  /** Where JSON lines go (stdout by default). */
  readonly destination?: DestinationStream;
  /**
   * Finds a module the way the transport will (overridable so a test can play an install
   * without dev dependencies); throws when it is not installed.
   */
  readonly resolveModule?: (name: string) => string;
}

/**
 * Every log line carries a stable `msgId` (e.g. `HA_STATE_TRANSITION`) so operators can grep and
 * alert on events without parsing prose: `logger.info({ msgId: 'X', ... }, 'text')`.
 */
export function createLogger(opts: LoggerOptions): Logger {
  if (opts.pretty && prettyInstalled(opts.resolveModule)) {
    return pino({
      name: opts.name,
      level: opts.level,
      transport: { target: 'pino-pretty', options: { colorize: true, messageKey: 'msg', ignore: 'pid,hostname' } },
    });
  }
  const logger = pino({ name: opts.name, level: opts.level }, opts.destination);
  if (opts.pretty) logger.info({ msgId: 'CORE_LOG_PRETTY_UNAVAILABLE' }, 'pino-pretty is not installed (a development dependency); logging JSON lines');
  return logger;
}

export const silentLogger: Logger = pino({ level: 'silent' });

/** pino-pretty is a development dependency: an installed liveset writes JSON lines even on a terminal. */
function prettyInstalled(resolve: (name: string) => string = createRequire(import.meta.url).resolve): boolean {
  try {
    resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}
