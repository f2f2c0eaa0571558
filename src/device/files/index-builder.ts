/**
 * Builds an image's file index from the entries of its layers as they stream past
 * (the tar sanitiser's tap): the same single pass that writes the slot, no extra read.
 * It follows the rules the extractor applies on disk (extract/layer-gate.ts and
 * whiteouts.ts): a later layer's entry replaces an earlier one, a non-directory over a
 * directory removes that directory's subtree, `.wh.<name>` removes a lower entry and
 * everything below it, `.wh..wh..opq` removes a directory's lower children; what the
 * same layer writes (and the directories above it) is never removed by its whiteouts.
 * Memory: one small record per entry of the final tree (capped: FILE_INDEX_MAX_ENTRIES),
 * one SHA-256 state for the file being streamed; no content is kept.
 */
import { createHash, type Hash } from 'node:crypto';
import { parentOf, whiteoutOf } from '../extract/entry-path.js';
import type { TarEntry } from '../extract/tar-sanitizer.js';
import { comparePaths, FILE_INDEX_MAX_ENTRIES, type FileEntry, type FileIndex, type FileType, xattrDigest } from './file-index.js';

/** What the tar sanitiser tells an observer about each entry, in stream order. */
export interface EntryTap {
  /** An entry's header (whiteouts included), before its data. */
  entry(e: TarEntry): void;
  /** Content bytes of the current entry (never padding). */
  data(chunk: Buffer): void;
  /** The current entry's data is complete. */
  endEntry(): void;
}

const TYPE_OF: Record<string, FileType | undefined> = { file: 'file', dir: 'dir', symlink: 'symlink', char: 'char', block: 'block', fifo: 'fifo' };

/** Per-layer bookkeeping, only kept when a lower layer exists (the first layer removes nothing). */
interface LayerMarks {
  written: Set<string>;
  ancestors: Set<string>;
  /** Paths removed themselves (whiteout targets not written by this layer). */
  removeSelf: Set<string>;
  /** Directories whose lower descendants are removed (whiteout targets, opaque dirs, directories replaced by non-directories). */
  removeBelow: Set<string>;
}

/** Collects the final tree of an image, layer by layer. */
export class FileIndexBuilder implements EntryTap {
  private final = new Map<string, FileEntry>();
  private marks: LayerMarks | undefined;
  private current: { e: FileEntry; hash: Hash } | undefined;
  /** Set when the image has more entries than the cap: no index is produced. */
  overflowed = false;

  constructor(
    private readonly image: string,
    private readonly maxEntries = FILE_INDEX_MAX_ENTRIES,
  ) {}

  /** A new layer starts. */
  beginLayer(): void {
    this.marks = this.final.size === 0 ? undefined : { written: new Set(), ancestors: new Set(), removeSelf: new Set(), removeBelow: new Set() };
  }

  entry(t: TarEntry): void {
    if (this.overflowed) return;
    const wo = whiteoutOf(t.path, 'file index');
    if (wo !== undefined) {
      if (wo.kind === 'remove') {
        this.marks?.removeSelf.add(wo.path);
        this.marks?.removeBelow.add(wo.path);
      } else if (wo.kind === 'opaque') this.marks?.removeBelow.add(wo.dir);
      return;
    }
    const e = this.toEntry(t);
    if (e === undefined) return;
    if (e.type !== 'dir' && this.final.get(e.path)?.type === 'dir') this.marks?.removeBelow.add(e.path);
    if (this.marks) {
      this.marks.written.add(e.path);
      for (let a = e.path; a !== ''; ) {
        a = parentOf(a);
        if (this.marks.ancestors.has(a)) break;
        this.marks.ancestors.add(a);
      }
    }
    if (e.type === 'file' && e.sha256 === undefined) this.current = { e, hash: createHash('sha256') };
    else this.put(e);
  }

  data(chunk: Buffer): void {
    this.current?.hash.update(chunk);
  }

  endEntry(): void {
    if (!this.current) return;
    const { e, hash } = this.current;
    this.current = undefined;
    this.put({ ...e, sha256: hash.digest('hex') });
  }

  /** The layer was extracted: apply its removals to the lower entries. */
  endLayer(): void {
    const m = this.marks;
    this.marks = undefined;
    if (!m || (m.removeSelf.size === 0 && m.removeBelow.size === 0)) return;
    for (const p of this.final.keys()) {
      if (m.written.has(p) || m.ancestors.has(p)) continue;
      if (m.removeSelf.has(p) || hasAncestorIn(p, m.removeBelow)) this.final.delete(p);
    }
  }

  /** The index of the final tree, sorted by path bytes; undefined when the cap was passed. */
  finish(): FileIndex | undefined {
    if (this.overflowed) return undefined;
    const entries = [...this.final.values()].sort((a, b) => comparePaths(a.path, b.path));
    return { image: this.image, entries };
  }

  private put(e: FileEntry): void {
    this.final.set(e.path, e);
    if (this.final.size > this.maxEntries) {
      this.overflowed = true;
      this.final = new Map();
      this.marks = undefined;
    }
  }

  /** The index entry for a tar entry; a hardlink takes its target's (they share one inode). */
  private toEntry(t: TarEntry): FileEntry | undefined {
    if (t.kind === 'hardlink') {
      const target = this.final.get(t.link);
      return target === undefined ? undefined : { ...target, path: t.path };
    }
    const type = TYPE_OF[t.kind];
    if (type === undefined) return undefined;
    const xattrs = xattrDigest(t.xattrs.map(([n, v]): [string, Buffer] => [n, Buffer.from(v, 'latin1')]));
    return {
      path: t.path,
      type,
      mode: t.mode & 0o7777,
      uid: t.uid,
      gid: t.gid,
      size: type === 'file' ? t.size : 0,
      mtime: t.mtime,
      ...(type === 'symlink' ? { link: t.link } : {}),
      ...(type === 'char' || type === 'block' ? { rdev: `${t.devmajor}:${t.devminor}` } : {}),
      ...(xattrs !== undefined ? { xattrs } : {}),
    };
  }
}

function hasAncestorIn(p: string, set: Set<string>): boolean {
  for (let a = p; a !== ''; ) {
    a = parentOf(a);
    if (set.has(a)) return true;
  }
  return false;
}
