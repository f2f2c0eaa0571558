/**
 * The site commands the engine runs: the health check (exit 0 = healthy, killed
 * after its timeout) and the reboot command. Both go through /bin/sh so a config
 * can hold a command line with arguments.
 */
import { FerryError } from '../errors.js';
import { runCommand } from './bootloaders/common.js';
import type { HealthCheckConfig } from './config.js';
import type { SlotName } from './types.js';

/** The verdict of a health check. */
export interface HealthResult {
  ok: boolean;
  reason: string;
}

/** Run the health check for `slot` (no check configured: reaching userspace is healthy). */
export async function runHealthCheck(cfg: HealthCheckConfig | undefined, slot: SlotName): Promise<HealthResult> {
  if (!cfg) return { ok: true, reason: 'no health check configured' };
  let r;
  try {
    r = await runCommand('/bin/sh', ['-c', `FERRY_SLOT=${slot}; export FERRY_SLOT; ${cfg.command}`], { timeoutMs: cfg.timeoutSec * 1000, cap: 64 * 1024 });
  } catch (e) {
    return { ok: false, reason: `cannot run "${cfg.command}": ${(e as Error).message}` };
  }
  if (r.code === 0) return { ok: true, reason: 'passed' };
  const tail = r.stderr.trim().split('\n').slice(-1)[0] ?? '';
  if (r.signal === 'SIGKILL') return { ok: false, reason: `"${cfg.command}" timed out after ${cfg.timeoutSec}s` };
  return { ok: false, reason: `"${cfg.command}" exited ${r.code ?? r.signal}${tail ? `: ${tail}` : ''}` };
}

/** Run the configured reboot command (e.g. `systemctl reboot`). */
export async function runRebootCommand(command: string): Promise<void> {
  const r = await runCommand('/bin/sh', ['-c', command], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new FerryError('COMMAND_FAILED', `reboot command "${command}" failed (exit ${r.code ?? r.signal}): reboot the device by hand`);
}
