/**
 * Ctrl-C (SIGINT) and SIGTERM during an HQ write: remove this run's unfinished files
 * (temp files, blobs nothing names yet, a signature without its manifest), release the
 * stick's lock, say CANCELLED and exit 130 (128 + SIGINT, what shells expect). What the
 * run already made reachable stays: the layout on the stick is valid at every moment.
 */
import { activeLocks } from '../media/lock.js';

/** Install the handler for the duration of a write; returns the function that removes it. */
export function cancelOnSignal(json: boolean): () => void {
  const handler = (signal: NodeJS.Signals): void => {
    let removed = 0;
    for (const lock of activeLocks()) removed += lock.cancelSync().length;
    const message = `cancelled by ${signal}: ${removed} unfinished file(s) removed; the media holds only complete images, run the command again to finish`;
    if (json) process.stdout.write(JSON.stringify({ ok: false, error: { code: 'CANCELLED', message } }) + '\n');
    else process.stderr.write(`\nferry: error[CANCELLED]: ${message}\n`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
