/**
 * Incremental apply: when the target slot still holds, undrifted, an image whose file index
 * the device recorded, and the update pins the new image's signed file index, only what
 * differs is written: changed and new entries, removals; identical files stay in place.
 * Decided before the first write (the plan says which and why); anything unusual falls back
 * to a full write. Crash safety is unchanged: the target is marked bad and its index removed
 * before writing, so an interrupted incremental write is rewritten in full next time.
 */
import { toFerryError } from '../errors.js';
import { compareTree } from './drift.js';
import { parentOf } from './extract/entry-path.js';
import { comparePaths, type FileEntry } from './files/file-index.js';
import { compileIgnores } from './files/glob.js';
import { copySignedIndex, type EntrySource, type IndexSource, IndexStream, openIndexFile } from './files/index-reader.js';
import { readSlotLayers, slotIndexPath } from './files/index-store.js';
import type { OciLayout, ResolvedImage } from '../oci/layout.js';
import type { Descriptor } from '../oci/types.js';
import { type DeviceState, loadState } from './state.js';
import { type DeviceDeps, type DeviceOptions, openDevice } from './context.js';
import type { InstallPlan } from './plan.js';
import { openMediaLayout } from '../media/source.js';
import { FINAL_DIR, FINAL_UNCHANGED, type ReuseWrite, type Slot, type SlotName } from './types.js';

/** How the slot will be written, and why. */
export interface WriteMode {
  mode: 'incremental' | 'full';
  reason: string;
  /** Incremental: content bytes of the files that are written (new and changed). */
  changedBytes?: number;
  /** Content bytes of every file of the new image. */
  totalBytes?: number;
}

/** What planReuse needs. */
export interface ReuseInputs {
  stateDir: string;
  state: DeviceState;
  target: SlotName;
  slot: Slot;
  layout: OciLayout;
  image: ResolvedImage;
  /** The signed update's image.fileIndex. */
  fileIndex: Descriptor | undefined;
  /** policy.verifySlotBeforeReuse: hash every file instead of trusting size and mtime. */
  hashAll?: boolean;
}

/** How an apply of `plan` would write its slot (for a confirmation screen before the apply starts). */
export async function writeModeFor(opts: DeviceOptions, deps: Pick<DeviceDeps, 'slotTypes' | 'createSlot'>, mediaRoot: string, plan: InstallPlan): Promise<WriteMode> {
  const dev = await openDevice(opts, deps);
  const state = await loadState(dev.config.stateDir);
  const layout = await openMediaLayout(mediaRoot);
  const u = plan.update.image;
  const image = await layout.resolveImage(u.manifest, u.platform, u.ref);
  const args = { stateDir: dev.config.stateDir, state, target: plan.target, slot: dev.slots[plan.target], layout, image, fileIndex: u.fileIndex, hashAll: dev.config.policy.verifySlotBeforeReuse };
  const { mode, reuse } = await planReuse(args);
  await reuse?.index.dispose?.();
  return mode;
}

/** Two entries describe the same thing on disk, times included. */
function sameEntry(a: FileEntry, b: FileEntry): boolean {
  return a.type === b.type && a.mode === b.mode && a.uid === b.uid && a.gid === b.gid && a.size === b.size && a.mtime === b.mtime && a.link === b.link && a.rdev === b.rdev && a.xattrs === b.xattrs && a.sha256 === b.sha256;
}

const full = (reason: string): { mode: WriteMode } => ({ mode: { mode: 'full', reason } });

/** Decide between an incremental and a full write of the target slot; any trouble deciding means a full write. */
export async function planReuse(i: ReuseInputs): Promise<{ mode: WriteMode; reuse?: ReuseWrite }> {
  try {
    return await decide(i);
  } catch (e) {
    const err = toFerryError(e);
    return full(`the slot could not be compared (${err.code}: ${err.message})`);
  }
}

async function decide(i: ReuseInputs): Promise<{ mode: WriteMode; reuse?: ReuseWrite }> {
  if (!i.slot.reuseProblem || !i.slot.openTree) return full(`${i.slot.type} slots are written in full`);
  if (!i.fileIndex) return full('the update pins no file index (export --file-index)');
  const rec = i.state.slots[i.target];
  if (rec.imageDigest === undefined || rec.status === 'empty') return full(`slot ${i.target} holds no recorded image`);
  const oldFile = slotIndexPath(i.stateDir, i.target);
  const oldWhat = `file index of slot ${i.target}`;
  const oldImage = await imageOf(() => openIndexFile(oldFile, oldWhat));
  if (oldImage !== rec.imageDigest) return full(`no file index for what slot ${i.target} holds`);
  const tree = await i.slot.openTree();
  try {
    const old = await openIndexFile(oldFile, oldWhat);
    if (!old) return full(`no file index for what slot ${i.target} holds`);
    const drift = await compareTree(tree.root, old, compileIgnores([]), compileIgnores(tree.ignore), !i.hashAll).finally(() => old.close());
    const n = drift.items.length;
    if (!drift.clean) return full(`slot ${i.target} has drifted from its image (${n} ${n === 1 ? 'difference' : 'differences'})`);
  } finally {
    await tree.release();
  }
  const what = `file index of ${i.image.manifestDescriptor.digest}`;
  const desc = i.fileIndex;
  const problem = await i.slot.reuseProblem();
  if (problem !== undefined) return full(problem);
  // Checked whole before it is parsed, then read from the state directory only (never the stick again).
  const signed = await copySignedIndex(i.stateDir, i.image.manifestDescriptor.digest, () => i.layout.openBlob(desc, what), what);
  let kept = false;
  const next = signed.open();
  try {
    if ((await next.image()) !== signed.image) return full('the signed file index describes another image');
    const old = await openIndexFile(oldFile, oldWhat);
    if (!old) return full(`no file index for what slot ${i.target} holds`);
    try {
      const r = await diffPlan(old, next, signed, await sharedLayers(i, oldImage));
      kept = r.reuse !== undefined;
      return r;
    } finally {
      old.close();
    }
  } finally {
    next.close();
    if (!kept) await signed.dispose();
  }
}

/** The image a stored index describes; undefined when there is none or it cannot be read. */
async function imageOf(open: () => Promise<IndexStream | undefined>): Promise<string | undefined> {
  const s = await open().catch(() => undefined);
  if (!s) return undefined;
  try {
    return await s.image();
  } catch {
    return undefined;
  } finally {
    s.close();
  }
}

/** How many leading layers the new image shares (same diff_ids) with the image in the slot. */
async function sharedLayers(i: ReuseInputs, oldImage: string): Promise<number> {
  const had = await readSlotLayers(slotIndexPath(i.stateDir, i.target));
  if (had?.image !== oldImage) return 0;
  const now = i.image.config.rootfs.diff_ids;
  let n = 0;
  while (n < now.length && n < had.diffIds.length && now[n] === had.diffIds[n]) n++;
  // The whole image unchanged: its top layer is still read, so the write has a stream to check against.
  return Math.min(n, now.length - 1);
}

function hasAncestorIn(p: string, set: Set<string>): boolean {
  for (let a = parentOf(p); a !== ''; a = parentOf(a)) if (set.has(a)) return true;
  return false;
}

/**
 * The unchanged paths and the removals between the slot's index and the new one, as a merge
 * of the two sorted streams: memory holds one entry of each, the flags of each new path and
 * what is removed or replaced, never either index whole.
 */
export async function diffPlan(old: EntrySource, next: EntrySource, index: IndexSource, skipLayers: number): Promise<{ mode: WriteMode; reuse?: ReuseWrite }> {
  const final = new Map<string, number>();
  // Directories removed so far: a removed path below one goes with it (sorted: an ancestor comes first).
  const goneDirs = new Set<string>();
  const remove: string[] = [];
  // Only paths the old index holds: every ancestor of those is a real directory in the slot (the walk never enters a symlink).
  const replace: string[] = [];
  let unchanged = 0;
  let entries = 0;
  let changedBytes = 0;
  let totalBytes = 0;
  const gone = (o: FileEntry): void => {
    if (!hasAncestorIn(o.path, goneDirs)) remove.push(o.path);
    if (o.type === 'dir') goneDirs.add(o.path);
  };
  let o = await old.read();
  for (let e = await next.read(); e !== undefined; e = await next.read()) {
    while (o !== undefined && comparePaths(o.path, e.path) < 0) {
      gone(o);
      o = await old.read();
    }
    const had = o !== undefined && o.path === e.path ? o : undefined;
    if (had) o = await old.read();
    entries++;
    totalBytes += e.size;
    // GNU tar adds a directory's new xattrs but never removes old ones: such a change needs a fresh tree.
    if (had && e.type === 'dir' && had.type === 'dir' && had.xattrs !== e.xattrs) return full(`the extended attributes of directory /${e.path} change`);
    let flags = e.type === 'dir' ? FINAL_DIR : 0;
    if (had && e.type !== 'dir' && sameEntry(had, e)) {
      flags |= FINAL_UNCHANGED;
      unchanged++;
    } else {
      changedBytes += e.size;
      if (had && had.type !== 'dir' && e.type !== 'dir') replace.push(e.path);
    }
    final.set(e.path, flags);
  }
  // What the new image lacks goes first; a removed directory takes its subtree with it.
  for (; o !== undefined; o = await old.read()) gone(o);
  return {
    mode: { mode: 'incremental', reason: `${unchanged} of ${entries} entries unchanged${skipLayers > 0 ? `; ${skipLayers} shared ${skipLayers === 1 ? 'layer is' : 'layers are'} not read` : ''}`, changedBytes, totalBytes },
    reuse: { final, remove, index, skipLayers, replace },
  };
}
