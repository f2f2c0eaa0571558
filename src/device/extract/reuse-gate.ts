/**
 * The gate of an incremental write (device/reuse.ts): entries identical in the slot are
 * dropped before GNU tar sees them (their bytes are skipped, the file stays as it is);
 * everything else goes through the normal layer gate, which replaces what is on disk.
 * Hardlinks and directories always pass: a link is re-made to its target's current inode,
 * and tar resets every directory's owner, mode and time after the removals changed them.
 * Whiteouts are dropped: a single-layer image has nothing below it to hide.
 */
import * as fsp from 'node:fs/promises';
import type { ReuseWrite } from '../types.js';
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
  ) {}

  admit(e: TarEntry): 'pass' | 'drop' | Promise<'pass' | 'drop'> {
    if (whiteoutOf(e.path, this.what) !== undefined) return 'drop';
    if (e.kind !== 'dir' && e.kind !== 'hardlink' && this.reuse.unchanged.has(e.path)) return 'drop';
    if (e.kind === 'file') this.bytesPassed += e.size;
    return this.inner.admit(e);
  }
}

/** Remove what the new image lacks, before the layer is written (each path with its subtree). */
export async function removeGone(root: string, reuse: ReuseWrite): Promise<void> {
  for (const p of reuse.remove) await fsp.rm(fsPath(root, p), { recursive: true, force: true });
}
