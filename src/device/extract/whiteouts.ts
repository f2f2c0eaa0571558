/**
 * Applying a layer's OCI whiteouts (image-spec layer.md "Whiteouts") after GNU tar
 * has extracted the layer: `.wh.<name>` deletes `<name>` from the lower layers and
 * `.wh..wh..opq` hides every lower-layer child of its directory. Whatever the same
 * layer wrote is kept (the spec: whiteouts never delete what their own layer adds).
 */
import type { BigIntStats, Stats } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { FerryError } from '../../errors.js';
import { parentOf, unsafePath, type Whiteout } from './entry-path.js';

/** The on-disk path of entry path `p` (a byte string) below `root`, as bytes. */
export function fsPath(root: string, p: string): Buffer {
  return p === '' ? Buffer.from(root, 'utf8') : Buffer.concat([Buffer.from(`${root}/`, 'utf8'), Buffer.from(p, 'latin1')]);
}

/** lstat that answers undefined for a missing path. */
export async function lstatOrUndefined(p: Buffer): Promise<Stats | undefined> {
  try {
    return await fsp.lstat(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw e;
  }
}

type Keep = (p: string) => boolean;

/**
 * Apply `whiteouts` in `root`; `keep(p)` is true for paths the layer wrote and their
 * ancestors. Returns how many lower-layer entries were removed.
 */
export async function applyWhiteouts(root: string, what: string, whiteouts: Iterable<Whiteout>, keep: Keep): Promise<number> {
  let removed = 0;
  for (const wo of whiteouts) {
    if (wo.kind === 'reserved') continue;
    const dir = wo.kind === 'opaque' ? wo.dir : parentOf(wo.path);
    const entry = wo.kind === 'opaque' ? `${wo.dir}/.wh..wh..opq` : wo.path;
    if (!(await realDirChain(root, dir, what, entry))) continue;
    if (wo.kind === 'remove') removed += await prune(root, wo.path, keep);
    else removed += await pruneChildren(root, wo.dir, keep);
  }
  return removed;
}

/** True when every component of `dir` is a real directory; false when one is missing; UNSAFE_PATH at a symlink. */
async function realDirChain(root: string, dir: string, what: string, entry: string): Promise<boolean> {
  if (dir === '') return true;
  const parts = dir.split('/');
  for (let i = 1; i <= parts.length; i++) {
    const st = await lstatOrUndefined(fsPath(root, parts.slice(0, i).join('/')));
    if (st === undefined) return false;
    if (st.isSymbolicLink()) throw unsafePath(what, entry, 'is a whiteout below a symlink (ferry refuses entries below symlinks)');
    if (!st.isDirectory()) return false;
  }
  return true;
}

/** Remove `p` unless kept; inside a kept directory, remove the children that are not. */
async function prune(root: string, p: string, keep: Keep): Promise<number> {
  const target = fsPath(root, p);
  const st = await lstatOrUndefined(target);
  if (st === undefined) return 0;
  if (!keep(p)) {
    await removeKeepingParentTimes(root, p, st);
    return 1;
  }
  return st.isDirectory() ? pruneChildren(root, p, keep) : 0;
}

async function pruneChildren(root: string, dir: string, keep: Keep): Promise<number> {
  let names: Buffer[];
  try {
    names = await fsp.readdir(fsPath(root, dir), { encoding: 'buffer' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return 0;
    throw e;
  }
  let n = 0;
  for (const name of names) {
    const child = name.toString('latin1');
    n += await prune(root, dir === '' ? child : `${dir}/${child}`, keep);
  }
  return n;
}

/** Remove a lower-layer entry, restoring its parent's mtime (the image's, not today's). */
async function removeKeepingParentTimes(root: string, p: string, st: Stats | BigIntStats): Promise<void> {
  const parent = fsPath(root, parentOf(p));
  const pst = await fsp.lstat(parent);
  try {
    await fsp.rm(fsPath(root, p), { recursive: st.isDirectory(), force: true });
  } catch (e) {
    throw new FerryError('IO_ERROR', `cannot apply a whiteout of ${JSON.stringify(p)}: ${(e as Error).message}`, { cause: e });
  }
  await fsp.utimes(parent, pst.atimeMs / 1000, pst.mtimeMs / 1000);
}
