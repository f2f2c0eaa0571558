/**
 * TEST HOOK for crash-safety tests: when the environment variable FERRY_FAULT_AT names
 * a point that the writer reaches, the process kills itself with SIGKILL there, exactly
 * like a pulled power cord or an OOM kill. Points: `after-first-blob-temp` (first blob
 * fully written and fsynced under its temp name, not yet renamed), `after-first-blob-rename`,
 * `before-index` (all blobs in place, index.json not yet rewritten). Unset in normal use.
 */
const hit = new Set<string>();

/** Kill this process with SIGKILL when FERRY_FAULT_AT equals `point` (first time only). */
export function faultPoint(point: string): void {
  if (process.env.FERRY_FAULT_AT !== point || hit.has(point)) return;
  hit.add(point);
  process.kill(process.pid, 'SIGKILL');
}
