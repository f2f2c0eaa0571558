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
import { Flag, PathTrie, ROOT } from './path-trie.js';
import type { EntryGate, TarEntry } from './tar-sanitizer.js';
import { corruptArchive } from '../../oci/tar-header.js';
import { applyWhiteouts, fsPath } from './whiteouts.js';

const KIND = { dir: 1, symlink: 2, other: 3 } as const;

function writtenKind(k: EntryKind): number {
  return k === 'dir' ? KIND.dir : k === 'symlink' ? KIND.symlink : KIND.other;
}

/** The gate for one layer extracted into `root` (a real directory). */
export class LayerGate implements EntryGate {
  /**
   * What this layer wrote (flag KIND), the directories it filled (ANCESTOR), the paths known
   * to be real directories (DIR_KNOWN) and its whiteouts, one trie node per distinct path
   * component: memory is bounded and linear in the components, whatever the depth.
   */
  private readonly trie: PathTrie;
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
  ) {
    this.trie = new PathTrie(what);
  }

  /** Decide about one entry; may remove a lower-layer entry it replaces. */
  admit(e: TarEntry): 'pass' | 'drop' {
    const wo = whiteoutOf(e.path, this.what);
    if (wo !== undefined) {
      // Whiteouts are applied once the layer is extracted, so they cannot delete what it adds.
      if (wo.kind === 'remove') {
        const dir = this.checkParents(wo.path, e.path);
        this.trie.flags[this.trie.childOrAdd(dir, wo.path.slice(wo.path.lastIndexOf('/') + 1))]! |= Flag.WO_REMOVE;
      } else if (wo.kind === 'opaque') {
        const dir = this.checkParents(wo.dir === '' ? 'x' : `${wo.dir}/x`, e.path);
        this.trie.flags[dir]! |= Flag.WO_OPAQUE;
      }
      return 'drop';
    }
    if (e.path === '') {
      if (e.kind !== 'dir') throw unsafePath(this.what, '.', `would replace the slot root with a ${e.kind}`);
      return 'pass';
    }
    this.checkParents(e.path, e.path);
    if (e.kind === 'hardlink') {
      this.checkParents(e.link, e.path);
      const target = this.trie.find(e.link);
      if (target !== -1 && ((this.trie.flags[target]! & Flag.KIND_MASK) === KIND.dir || (this.trie.flags[target]! & Flag.DIR_KNOWN) !== 0)) {
        throw unsafePath(this.what, e.path, 'is a hardlink to a directory');
      }
    }
    this.prepareTarget(e);
    this.record(e.path, writtenKind(e.kind));
    return 'pass';
  }

  /** Apply the layer's whiteouts; call only after GNU tar extracted the layer successfully. */
  async finish(): Promise<number> {
    // Whiteouts only ever hide lower layers; over an empty root there is nothing to hide.
    if (this.lowerEmpty) return 0;
    const keep = (p: string): boolean => {
      const n = this.trie.find(p);
      return n !== -1 && (this.trie.flags[n]! & (Flag.KIND_MASK | Flag.ANCESTOR)) !== 0;
    };
    return applyWhiteouts(this.root, this.what, this.whiteouts(), keep);
  }

  /** The layer's whiteouts, rebuilt from the trie one at a time. */
  private *whiteouts(): Generator<Whiteout> {
    const t = this.trie;
    for (let n = 0; n < t.size; n++) {
      const f = t.flags[n]!;
      if (f & Flag.WO_OPAQUE) yield { kind: 'opaque', dir: t.pathOf(n) };
      if (f & Flag.WO_REMOVE) yield { kind: 'remove', path: t.pathOf(n) };
    }
  }

  private record(p: string, k: number): void {
    // Over an empty root nobody asks about this layer's plain files again (no lower entry to
    // replace, no whiteout to apply), so only directories and symlinks get a node: the
    // first layer of an image usually holds most of its files, and this keeps memory flat.
    const t = this.trie;
    let a: number;
    if (this.lowerEmpty && k === KIND.other) {
      a = t.find(parentOf(p)); // made by checkParents
    } else {
      const n = t.add(p);
      t.flags[n] = (t.flags[n]! & ~(Flag.KIND_MASK | Flag.DIR_KNOWN)) | k | (k === KIND.dir ? Flag.DIR_KNOWN : 0);
      a = t.parent(n);
    }
    for (; a > ROOT && (t.flags[a]! & Flag.ANCESTOR) === 0; a = t.parent(a)) t.flags[a]! |= Flag.ANCESTOR;
  }

  /** Every ancestor of `p` must be a real directory (or absent: tar creates it); returns the parent's node. */
  private checkParents(p: string, entry: string): number {
    const t = this.trie;
    let node = ROOT;
    const last = p.lastIndexOf('/');
    for (let start = 0; start <= last; ) {
      const end = p.indexOf('/', start);
      const parentAbsent = (t.flags[node]! & Flag.ABSENT) !== 0;
      node = t.childOrAdd(node, p, start, end);
      start = end + 1;
      const f = t.flags[node]!;
      if (f & Flag.DIR_KNOWN) continue;
      const w = f & Flag.KIND_MASK;
      if (w === KIND.symlink) throw unsafePath(this.what, entry, `lies below ${JSON.stringify(p.slice(0, end))}, a symlink in the same layer (ferry refuses entries below symlinks)`);
      if (w === KIND.other) throw corruptArchive(this.what, `entry ${JSON.stringify(entry)} lies below ${JSON.stringify(p.slice(0, end))}, which the same layer made a non-directory`);
      // Below a directory that was not on disk, nothing of the lower layers can be either.
      if (w === 0 && (this.lowerEmpty || parentAbsent)) t.flags[node]! |= Flag.ABSENT;
      else if (w === 0) this.checkLowerDir(p.slice(0, end), node, entry);
      t.flags[node]! |= Flag.DIR_KNOWN;
    }
    return node;
  }

  /** A lower-layer ancestor `d` must be a real directory or absent; never a symlink. */
  private checkLowerDir(d: string, node: number, entry: string): void {
    const st = fs.lstatSync(fsPath(this.root, d), { throwIfNoEntry: false });
    if (st === undefined) this.trie.flags[node]! |= Flag.ABSENT;
    else if (st.isSymbolicLink()) throw unsafePath(this.what, entry, `lies below ${JSON.stringify(d)}, a symlink in a lower layer (ferry refuses entries below symlinks)`);
    else if (!st.isDirectory()) throw corruptArchive(this.what, `entry ${JSON.stringify(entry)} lies below ${JSON.stringify(d)}, which a lower layer made a non-directory`);
  }

  /**
   * Make room for the entry the way umoci and containerd do: a non-directory replaces a
   * lower directory with its whole subtree; a directory replaces a lower non-directory
   * (never merged into a symlink's target, which GNU tar would otherwise do).
   */
  private prepareTarget(e: TarEntry): void {
    const t = this.trie;
    const n = t.find(e.path);
    const f = n === -1 ? 0 : t.flags[n]!;
    const mine = f & Flag.KIND_MASK;
    const filled = (f & Flag.ANCESTOR) !== 0;
    if (mine !== 0 || filled) {
      if (e.kind === 'dir' && mine === KIND.symlink) throw unsafePath(this.what, e.path, 'is a directory over a symlink the same layer wrote');
      if (e.kind !== 'dir' && filled) throw corruptArchive(this.what, `entry ${JSON.stringify(e.path)} replaces a directory the same layer already filled`);
      return;
    }
    if (this.lowerEmpty || (t.flags[t.find(parentOf(e.path))]! & Flag.ABSENT) !== 0) return;
    const target = fsPath(this.root, e.path);
    const st = fs.lstatSync(target, { throwIfNoEntry: false });
    if (st === undefined || (st.isDirectory() && e.kind === 'dir')) return;
    if (st.isDirectory()) {
      fs.rmSync(target, { recursive: true, force: true });
      if (n !== -1) {
        t.flags[n]! &= ~Flag.DIR_KNOWN;
        for (const d of t.descendants(n)) t.flags[d]! &= ~Flag.DIR_KNOWN;
      }
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
