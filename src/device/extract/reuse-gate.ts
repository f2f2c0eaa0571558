/**
 * The gate of an incremental write (device/reuse.ts): only entries of the new image's final
 * tree are written, and of those only what is not already identical in the slot; the rest
 * is dropped before GNU tar sees it (its bytes are skipped, the file stays as it is).
 * What passes goes through the normal layer gate, which replaces what is on disk.
 * Hardlinks and directories of the final tree always pass: a link is re-made to its
 * target's current inode, and tar resets every directory's owner, mode and time after the
 * removals changed them. Whiteouts are dropped: what the new image lacks was removed
 * before the first layer (reuse.remove), and a lower layer's entry that a later layer
 * hides or replaces is never in the final tree, so it is never written in the first place.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { FerryError } from '../../errors.js';
import { FINAL_DIR, FINAL_UNCHANGED, type ReuseWrite } from '../types.js';
import { whiteoutOf } from './entry-path.js';
import type { EntryGate, TarEntry } from './tar-sanitizer.js';
import { fsPath } from './whiteouts.js';

/** Wraps the layer gate for an incremental write; counts the content bytes it lets through. */
export class ReuseGate implements EntryGate {
  /** Content bytes of the files written. */
  bytesPassed = 0;

  constructor(
    private readonly inner: EntryGate,
    private readonly reuse: ReuseWrite,
    private readonly what: string,
    /** Collects the paths that pass (when layers are skipped: what the read layers provided). */
    private readonly passed?: Set<string>,
  ) {}

  admit(e: TarEntry): 'pass' | 'drop' | Promise<'pass' | 'drop'> {
    if (whiteoutOf(e.path, this.what) !== undefined) return 'drop';
    const flags = this.reuse.final.get(e.path);
    // Only the final tree, as the kind it has there: a version a later layer replaces or hides is skipped.
    if (flags === undefined || ((flags & FINAL_DIR) !== 0) !== (e.kind === 'dir')) return 'drop';
    if (e.kind !== 'dir' && e.kind !== 'hardlink' && (flags & FINAL_UNCHANGED) !== 0) return 'drop';
    if (e.kind === 'file') this.bytesPassed += e.size;
    this.passed?.add(e.path);
    return this.inner.admit(e);
  }
}

const UNLINKS_IN_FLIGHT = 16;

/**
 * Before the first layer: remove what the new image lacks (each path with its subtree), and
 * unlink the old version of every non-directory that will be written anew. The layer gate
 * would unlink each one on the main thread, between two tar entries; here they run on the
 * thread pool, many at once (on a slow flash device an unlink that frees extents takes ms).
 */
export async function removeGone(root: string, reuse: ReuseWrite): Promise<void> {
  for (const p of reuse.remove) await fsp.rm(fsPath(root, p), { recursive: true, force: true });
  const stale = reuse.replace;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < stale.length) {
      const p = stale[next++]!;
      await fsp.unlink(fsPath(root, p)).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw new FerryError('IO_ERROR', `cannot replace ${JSON.stringify(p.slice(0, 200))}: ${e.message}`, { cause: e });
      });
    }
  };
  await Promise.all(Array.from({ length: UNLINKS_IN_FLIGHT }, worker));
}

/**
 * After only the layers above the shared ones were read: the final-tree entries those layers
 * did not provide must already be in place. Directories get the owner and mode of the index
 * (a directory the slot's old upper layers changed); returns the paths that are missing or
 * differ (they live in a shared layer: the caller then reads every layer). The signed index is
 * streamed from the stick again (read to its end, so its digest is checked once more).
 */
export async function settleSkipped(root: string, reuse: ReuseWrite, passed: ReadonlySet<string>): Promise<string[]> {
  const missing: string[] = [];
  for await (const e of reuse.index.open()) {
    if (passed.has(e.path)) continue;
    if (e.type !== 'dir') {
      if (((reuse.final.get(e.path) ?? 0) & FINAL_UNCHANGED) === 0) missing.push(e.path);
      continue;
    }
    const p = fsPath(root, e.path);
    const st = fs.lstatSync(p, { throwIfNoEntry: false });
    if (!st?.isDirectory()) {
      missing.push(e.path);
      continue;
    }
    if (st.uid !== e.uid || st.gid !== e.gid) fs.lchownSync(p, e.uid, e.gid);
    // after chown, which may clear setgid
    if ((st.mode & 0o7777) !== e.mode || st.uid !== e.uid || st.gid !== e.gid) fs.chmodSync(p, e.mode);
  }
  return missing;
}
