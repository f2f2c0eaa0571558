/**
 * Crash-safe file primitives shared by the media writer and the device state:
 * write to a temporary name, fsync, rename, fsync the directory; and capped reads
 * of untrusted files.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { FerryError } from '../errors.js';

/** A temporary name beside `target`, recognisable (".ferry-tmp-") so a re-run can clean it up. */
export function tempNameFor(target: string): string {
  return path.join(path.dirname(target), `.ferry-tmp-${path.basename(target)}.${randomBytes(4).toString('hex')}`);
}

/** True for names produced by tempNameFor. */
export function isTempName(name: string): boolean {
  return name.startsWith('.ferry-tmp-');
}

/**
 * Remove the temporary files a run that died left in `dir`: every `.ferry-tmp-*`, or with
 * `target` only those of that file (`.ferry-tmp-<name>.*`, for folders ferry shares with
 * others, such as the grubenv's). Returns how many were removed; a missing dir is none.
 */
export async function removeStaleTemps(dir: string, target?: string): Promise<number> {
  const prefix = target === undefined ? '.ferry-tmp-' : `.ferry-tmp-${path.basename(target)}.`;
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return 0;
  }
  let n = 0;
  for (const name of names.filter((x) => x.startsWith(prefix))) {
    await fsp.rm(path.join(dir, name), { force: true });
    n++;
  }
  if (n > 0) await fsyncDir(dir);
  return n;
}

/** fsync a directory so a rename inside it survives power loss. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Atomically replace `target` with `data`: temp file, fsync, rename, fsync dir. */
export async function writeFileAtomic(target: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const tmp = tempNameFor(target);
  const fh = await fsp.open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  await fsp.rename(tmp, target);
  await fsyncDir(path.dirname(target));
}

/**
 * Read a whole file of untrusted origin, refusing it when larger than `maxBytes`
 * before reading a single byte past the cap.
 */
export async function readFileCapped(file: string, maxBytes: number, what = 'file'): Promise<Buffer> {
  const fh = await fsp.open(file, 'r');
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new FerryError('INVALID_LAYOUT', `${what} ${file} is not a regular file`);
    if (st.size > maxBytes) {
      throw new FerryError('FILE_TOO_LARGE', `${what} ${file} is ${st.size} bytes, over the ${maxBytes}-byte cap: the media is damaged or not ferry's`, {
        details: { file, size: st.size, cap: maxBytes },
      });
    }
    // Read at most cap+1 bytes even if the file grew since stat.
    const buf = Buffer.alloc(Math.min(st.size, maxBytes) + 1);
    let off = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, off, buf.length - off, off);
      if (bytesRead === 0) break;
      off += bytesRead;
      if (off === buf.length) break;
    }
    if (off > maxBytes) throw new FerryError('FILE_TOO_LARGE', `${what} ${file} grew over the ${maxBytes}-byte cap while being read`);
    return buf.subarray(0, off);
  } finally {
    await fh.close();
  }
}

/** True when `p` exists (lstat, no symlink following). */
export async function exists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch {
    return false;
  }
}
