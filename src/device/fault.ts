/**
 * TEST HOOK for crash-safety tests: when FERRY_FAULT_AT names a point the apply
 * pipeline reaches (after-mark-bad, mid-write, before-record, before-bootloader,
 * after-bootloader), the process kills itself with SIGKILL there, exactly like a
 * power cut as far as ferry's files are concerned. Unset in production.
 */
import type { ProgressFn } from '../progress.js';

/** The points at which a fault can be injected. */
export const FAULT_POINTS = ['after-mark-bad', 'mid-write', 'before-record', 'before-bootloader', 'after-bootloader'] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

/** Die here when FERRY_FAULT_AT says so. */
export function faultPoint(point: FaultPoint, env: NodeJS.ProcessEnv = process.env): void {
  if (env.FERRY_FAULT_AT === point) process.kill(process.pid, 'SIGKILL');
}

/** Wrap a progress sink so that FERRY_FAULT_AT=mid-write kills the process half-way through the write. */
export function faultingProgress(progress: ProgressFn, env: NodeJS.ProcessEnv = process.env): ProgressFn {
  if (env.FERRY_FAULT_AT !== 'mid-write') return progress;
  return (e) => {
    progress(e);
    if (e.step === 'write' && e.bytesTotal > 0 && e.bytesDone * 2 >= e.bytesTotal) process.kill(process.pid, 'SIGKILL');
  };
}

