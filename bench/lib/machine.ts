import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem, type as osType } from 'node:os';

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** One line per fact: CPU model, cores, memory, OS, kernel, Node, the temp dir's file system. */
export function machineDescription(): string[] {
  const cpu = cpus();
  const distro = /PRETTY_NAME="?([^"\n]+)"?/.exec(read('/etc/os-release'))?.[1] ?? osType();
  let fs = 'unknown';
  try {
    const cols = execFileSync('df', ['-T', tmpdir()], { encoding: 'utf8' }).trim().split('\n')[1]?.split(/\s+/) ?? [];
    if (cols.length > 2) fs = `${cols[1]} on ${cols[0]}`;
  } catch {
    // df missing: leave unknown
  }
  const mhz = cpu[0]?.speed ? ` at ${cpu[0].speed} MHz` : '';
  return [
    `CPU: ${cpu[0]?.model ?? 'unknown'}${mhz}, ${cpu.length} logical cores`,
    `Memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `OS: ${distro}, kernel ${release()}`,
    `Node.js: ${process.version} (liveset and bench children compiled by tsc; the bench driver through tsx)`,
    `Temp directory (data dirs, redo logs): ${tmpdir()}, ${fs}`,
    `Load average when the run started: ${loadavg().map((x) => x.toFixed(2)).join(', ')}`,
  ];
}
