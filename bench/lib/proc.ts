import { readFileSync } from 'node:fs';

/** Kernel clock ticks per second; 100 on every Linux this runs on (USER_HZ). */
const TICKS = 100;

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / TICKS;
}

/** Resident set size in MiB, from /proc/<pid>/status. */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Measures a process's CPU share (1.0 = one core busy) while `during` runs. */
export async function cpuShare<T>(pid: number, during: () => Promise<T>): Promise<{ share: number; value: T }> {
  const c0 = cpuSeconds(pid);
  const t0 = performance.now();
  const value = await during();
  const c1 = cpuSeconds(pid);
  return { share: (c1 - c0) / ((performance.now() - t0) / 1000), value };
}
