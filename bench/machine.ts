/** A description of the machine a bench ran on, for the table's header. */
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';

/** nproc, memory, CPU model, kernel/OS, Node version and load at the start. */
export function describeMachine(): Record<string, string | number> {
  const model = /model name\s*:\s*(.+)/.exec(safeRead('/proc/cpuinfo'))?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown CPU';
  const os = /PRETTY_NAME="?([^"\n]+)"?/.exec(safeRead('/etc/os-release'))?.[1] ?? process.platform;
  return {
    cpu: model,
    nproc: cpus().length,
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    os,
    kernel: safeRead('/proc/sys/kernel/osrelease').trim(),
    node: process.versions.node,
    loadavgAtStart: loadavg().map((l) => l.toFixed(2)).join(' '),
  };
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8').slice(0, 256 * 1024);
  } catch {
    return '';
  }
}
