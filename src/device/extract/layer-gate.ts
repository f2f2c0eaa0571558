/**
 * Per-layer policy between the tar parser and GNU tar: path safety against the
 * tree on disk, replacement of lower-layer entries, and the layer's whiteouts.
 *
 * ferry's rule (stricter than tar's): no entry, hardlink target or whiteout may lie
 * below a symlink, whether the symlink comes from a lower layer (checked with lstat)
 * or from this layer. OS images never need that, and refusing it means nothing tar
 * writes can be steered outside the slot root.
 *
 * GNU tar extracts while this gate runs ahead of it, so the gate consults the disk
 * only for paths this layer has not touched yet (those are stable: only the layers
 * below wrote them), and its own record for paths it has. Its few syscalls per entry
 * are synchronous on purpose: microseconds each, and no promise garbage per entry
 * (which, for 50,000 entries, showed up as tens of MiB of heap).
 */
import * as fs from 'node:fs';
import { FerryError } from '../../errors.js';
import { type EntryKind, parentOf, unsafePath, type Whiteout, whiteoutOf } from './entry-path.js';
import type { EntryGate, TarEntry } from './tar-sanitizer.js';
import { corruptArchive } from '../../oci/tar-header.js';
import { applyWhiteouts, fsPath } from './whiteouts.js';

type Written = 'dir' | 'symlink' | 'other';

function writtenKind(k: EntryKind): Written {
  return k === 'dir' ? 'dir' : k === 'symlink' ? 'symlink' : 'other';
}

/** The gate for one layer extracted into `root` (a real directory). */
export class LayerGate implements EntryGate {
  /** Paths this layer writes, by what they are. */
  private readonly written = new Map<string, Written>();
  /** Every ancestor directory of a written path (created implicitly by tar if absent). */
  private readonly ancestors = new Set<string>();
  /** Paths known to be real directories right now (lower dirs verified with lstat, or this layer's). */
  private readonly dirs = new Set<string>();
  private readonly whiteouts: Whiteout[] = [];
  /** Lower-layer entries this gate removed because this layer replaces them. */
  replaced = 0;

  /**
   * @param lowerEmpty true when nothing lies in `root` yet (first layer into an empty
   *   slot): then the disk is never consulted.
   */
  constructor(
    private readonly root: string,
    private readonly what: string,
    private readonly lowerEmpty: boolean,
  ) {}

  /** Decide about one entry; may remove a lower-layer entry it replaces. */
  admit(e: TarEntry): 'pass' | 'drop' {
    const wo = whiteoutOf(e.path, this.what);
    if (wo !== undefined) {
      // Whiteouts are applied once the layer is extracted, so they cannot delete what it adds.
      if (wo.kind !== 'reserved') this.checkParents(wo.kind === 'opaque' ? `${wo.dir}/x` : wo.path, e.path);
      if (wo.kind !== 'reserved') this.whiteouts.push(wo);
      return 'drop';
    }
    if (e.path === '') {
      if (e.kind !== 'dir') throw unsafePath(this.what, '.', `would replace the slot root with a ${e.kind}`);
      return 'pass';
    }
    this.checkParents(e.path, e.path);
    if (e.kind === 'hardlink') {
      this.checkParents(e.link, e.path);
      if (this.written.get(e.link) === 'dir' || this.dirs.has(e.link)) throw unsafePath(this.what, e.path, 'is a hardlink to a directory');
    }
    this.prepareTarget(e);
    this.record(e.path, writtenKind(e.kind));
    return 'pass';
  }

  /** Apply the layer's whiteouts; call only after GNU tar extracted the layer successfully. */
  async finish(): Promise<number> {
    // Whiteouts only ever hide lower layers; over an empty root there is nothing to hide.
    if (this.lowerEmpty) return 0;
    return applyWhiteouts(this.root, this.what, this.whiteouts, (p) => this.written.has(p) || this.ancestors.has(p));
  }

  private record(p: string, k: Written): void {
    // Over an empty root nobody asks about this layer's plain files again (no lower entry to
    // replace, no whiteout to apply), so only directories and symlinks are remembered: the
    // first layer of an image usually holds most of its files, and this keeps memory flat.
    if (!(this.lowerEmpty && k === 'other')) this.written.set(p, k);
    if (k === 'dir') this.dirs.add(p);
    else this.dirs.delete(p);
    for (let a = parentOf(p); a !== '' && !this.ancestors.has(a); a = parentOf(a)) this.ancestors.add(a);
  }

  /** Every ancestor of `p` must be a real directory (or absent: tar creates it). */
  private checkParents(p: string, entry: string): void {
    const chain: string[] = [];
    for (let d = parentOf(p); d !== '' && !this.dirs.has(d); d = parentOf(d)) chain.push(d);
    for (const d of chain.reverse()) {
      const w = this.written.get(d);
      if (w === 'symlink') throw unsafePath(this.what, entry, `lies below ${JSON.stringify(d)}, a symlink in the same layer (ferry refuses entries below symlinks)`);
      if (w === 'other') throw corruptArchive(this.what, `entry ${JSON.stringify(entry)} lies below ${JSON.stringify(d)}, which the same layer made a non-directory`);
      if (w === undefined && !this.lowerEmpty) {
        const st = fs.lstatSync(fsPath(this.root, d), { throwIfNoEntry: false });
        if (st?.isSymbolicLink()) throw unsafePath(this.what, entry, `lies below ${JSON.stringify(d)}, a symlink in a lower layer (ferry refuses entries below symlinks)`);
        if (st && !st.isDirectory()) throw corruptArchive(this.what, `entry ${JSON.stringify(entry)} lies below ${JSON.stringify(d)}, which a lower layer made a non-directory`);
      }
      this.dirs.add(d);
    }
  }

  /**
   * Make room for the entry the way umoci and containerd do: a non-directory replaces a
   * lower directory with its whole subtree; a directory replaces a lower non-directory
   * (never merged into a symlink's target, which GNU tar would otherwise do).
   */
  private prepareTarget(e: TarEntry): void {
    const mine = this.written.get(e.path);
    if (mine !== undefined || this.ancestors.has(e.path)) {
      if (e.kind === 'dir' && mine === 'symlink') throw unsafePath(this.what, e.path, 'is a directory over a symlink the same layer wrote');
      if (e.kind !== 'dir' && this.ancestors.has(e.path)) throw corruptArchive(this.what, `entry ${JSON.stringify(e.path)} replaces a directory the same layer already filled`);
      return;
    }
    if (this.lowerEmpty) return;
    const target = fsPath(this.root, e.path);
    const st = fs.lstatSync(target, { throwIfNoEntry: false });
    if (st === undefined || (st.isDirectory() && e.kind === 'dir')) return;
    if (st.isDirectory()) {
      fs.rmSync(target, { recursive: true, force: true });
      const prefix = `${e.path}/`;
      for (const d of this.dirs) if (d === e.path || d.startsWith(prefix)) this.dirs.delete(d);
    } else {
      try {
        fs.unlinkSync(target);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new FerryError('IO_ERROR', `${this.what}: cannot replace ${JSON.stringify(e.path)}: ${(err as Error).message}`, { cause: err });
      }
    }
    this.replaced++;
  }
}
