/**
 * Ctrl-C (SIGINT) and SIGTERM during an HQ write: remove this run's unfinished files
 * (temp files, blobs nothing names yet, a signature without its manifest), release the
 * stick's lock, say CANCELLED and exit 130 (128 + SIGINT, what shells expect). What the
 * run already made reachable stays: the layout on the stick is valid at every moment.
 */
import { activeLocks, type LockOptions, type MediaLock, withMediaLock } from '../media/lock.js';
import { checkMediaPath } from '../media/media-path.js';
import { printJson, printNotes } from './run.js';

/** Install the handler for the duration of a write; returns the function that removes it. */
export function cancelOnSignal(json: boolean): () => void {
  const handler = (signal: NodeJS.Signals): void => {
    // too late to cancel: the media already names all this run wrote; it ends normally in a moment
    const locks = activeLocks();
    if (locks.length > 0 && locks.every((l) => l.settled)) return;
    let removed = 0;
    for (const lock of locks) removed += lock.cancelSync().length;
    const message = `cancelled by ${signal}: ${removed} unfinished file(s) removed; the media holds only complete images, run the command again to finish`;
    if (json) printJson({ ok: false, error: { code: 'CANCELLED', message } });
    else printNotes('', `ferry: error[CANCELLED]: ${message}`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

/** Tell the user once that another ferry holds the stick and we wait for it. */
export const waitMessage: LockOptions['onWait'] = (o, file) => printNotes(`ferry: waiting for pid ${o.pid} on ${o.host} (${o.what}) to finish writing the media (lock ${file})`);

/**
 * An HQ write as the CLI runs it: the media path checked (warnings printed), Ctrl-C
 * handled, the stick's lock held around `fn`.
 */
export async function hqWrite<T>(media: string, what: string, opts: { json?: boolean; create?: boolean }, fn: (lock: MediaLock) => Promise<T>): Promise<T> {
  printNotes(...(await checkMediaPath(media, { create: opts.create ?? false })).map((w) => `ferry: warning: ${w}`));
  const uncancel = cancelOnSignal(opts.json ?? false);
  try {
    return await withMediaLock(media, what, { onWait: waitMessage }, fn);
  } finally {
    uncancel();
  }
}
