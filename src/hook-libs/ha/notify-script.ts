import { resolve } from 'node:path';
import type { Logger } from '../../core/logger.ts';
import type { NotifyConfig } from './ha-config.ts';

/**
 * Runs the notify script keepalived-style:
 * `script <new-state> <old-state> <server-name> <partner-state> <scopes,comma,separated> <paused>`.
 * Never awaited by the state machine; a script that fails is logged, one that outlives its
 * timeout is killed. Returns a function that kills it now (the library unloads), or undefined
 * when it could not be started.
 */
export function runNotifyScript(
  notify: NotifyConfig,
  configDir: string,
  logger: Logger,
  event: { readonly to: string; readonly from: string; readonly server: string; readonly partner: string; readonly scopes: readonly string[]; readonly paused: boolean },
  onExit: () => void = () => undefined,
): (() => void) | undefined {
  const script = resolve(configDir, notify.script);
  const fields = { msgId: 'HA_NOTIFY_SCRIPT_FAILED', script, state: event.to };
  let child;
  try {
    // node:child_process is loaded with the first notification, not by every HA server at start.
    child = process.getBuiltinModule('node:child_process').spawn(script, [event.to, event.from, event.server, event.partner, event.scopes.join(','), String(event.paused)], {
      stdio: 'ignore',
    });
  } catch (err) {
    logger.error({ ...fields, err }, `notify script ${script} could not be started`);
    return undefined;
  }
  const timer = setTimeout(() => {
    logger.error({ ...fields, timeoutMs: notify.timeoutMs }, `notify script ${script} still running after ${notify.timeoutMs} ms; killed`);
    child.kill('SIGKILL');
  }, notify.timeoutMs);
  timer.unref();
  child.on('error', (err) => {
    clearTimeout(timer);
    onExit();
    logger.error({ ...fields, err: err.message }, `notify script ${script} could not be started: ${err.message}`);
  });
  child.on('exit', (code, signal) => {
    clearTimeout(timer);
    onExit();
    if (code === 0) logger.debug({ msgId: 'HA_NOTIFY_SCRIPT_DONE', script, state: event.to }, 'notify script done');
    else if (signal !== 'SIGKILL') logger.error({ ...fields, code, signal }, `notify script ${script} failed (exit ${code ?? signal})`);
  });
  return () => {
    clearTimeout(timer);
    if (child.exitCode !== null || child.signalCode !== null) return;
    logger.warn({ msgId: 'HA_NOTIFY_SCRIPT_KILLED', script, state: event.to }, `notify script ${script} killed: the ha library is stopping`);
    child.kill('SIGKILL');
  };
}
