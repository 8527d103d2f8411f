import { createRequire } from 'node:module';
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

export interface LoggerOptions {
  readonly level: LogLevel;
  readonly name: string;
  /** Human-readable lines (pino-pretty) when writing to a terminal; JSON lines otherwise. */
  readonly pretty: boolean;
}

/**
 * Every log line carries a stable `msgId` (e.g. `HA_STATE_TRANSITION`) so operators can grep and
 * alert on events without parsing prose: `logger.info({ msgId: 'X', ... }, 'text')`.
 */
export function createLogger(opts: LoggerOptions): Logger {
  if (opts.pretty && prettyInstalled()) {
    return pino({
      name: opts.name,
      level: opts.level,
      transport: { target: 'pino-pretty', options: { colorize: true, messageKey: 'msg', ignore: 'pid,hostname' } },
    });
  }
  return pino({ name: opts.name, level: opts.level });
}

export const silentLogger: Logger = pino({ level: 'silent' });

/** pino-pretty is a development dependency: an installed liveset writes JSON lines even on a terminal. */
function prettyInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}
