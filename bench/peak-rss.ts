import { readFileSync, writeFileSync } from 'node:fs';

/**
 * Preloaded (`node --import`) into a short-lived process the bench times: on exit it writes the
 * process's peak resident set size (VmHWM, kB) to $PEAK_RSS_FILE, which the parent cannot read
 * once the process is gone.
 */
const file = process.env['PEAK_RSS_FILE'];
if (file) {
  process.on('exit', () => {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    writeFileSync(file, m?.[1] ?? '');
  });
}
