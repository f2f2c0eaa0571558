/**
 * The `--media` path of an HQ writer, checked before anything is written: it must exist
 * (a typo like /medai/stick must not create a folder on the root file system) unless
 * `--create` allows making it, it must be a folder (not an archive or another file), and
 * a warning is due when it sits on the same file system as `/` (not a mounted stick).
 */
import { constants as fsc } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { FerryError } from '../errors.js';

/** Check an HQ media path; returns warnings (empty when it is a mounted stick). */
export async function checkMediaPath(mediaRoot: string, opts: { create: boolean }): Promise<string[]> {
  let st;
  try {
    st = await fsp.stat(mediaRoot);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') throw new FerryError('USAGE', `--media ${mediaRoot}: a part of this path is a file, not a folder: give the folder where the stick is mounted`, { cause: e });
    if (code !== 'ENOENT') throw new FerryError('IO_ERROR', `--media ${mediaRoot} cannot be read (${code ?? 'error'}): check the path and its permissions`, { cause: e });
    if (!opts.create) {
      throw new FerryError('MEDIA_NOT_FOUND', `--media ${mediaRoot} does not exist: check for a typo and that the stick is mounted, or pass --create to make this folder`, { cause: e });
    }
    try {
      await fsp.mkdir(mediaRoot, { recursive: true });
    } catch (e2) {
      const c2 = (e2 as NodeJS.ErrnoException).code;
      throw new FerryError(c2 === 'EROFS' ? 'READ_ONLY_MEDIA' : 'IO_ERROR', `cannot create --media ${mediaRoot} (${c2 ?? 'error'}): check the path and that the stick is writable`, { cause: e2 });
    }
    st = await fsp.stat(mediaRoot);
  }
  if (!st.isDirectory()) {
    const hint = /\.(tar|ferry)$/i.test(mediaRoot) ? ': that is an archive file; unpack it with ferry unarchive --in <file> --media <folder>' : ': give the folder where the stick is mounted';
    throw new FerryError('USAGE', `--media ${mediaRoot} is a file, not a folder${hint}`);
  }
  // a read-only stick is named as such before the lock's mkdir fails with a bare errno
  await fsp.access(mediaRoot, fsc.W_OK).catch((e: unknown) => {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EROFS') throw new FerryError('READ_ONLY_MEDIA', `--media ${mediaRoot} is mounted read-only: remount it read-write (mount -o remount,rw ${mediaRoot}) or check the stick's write-protect switch`, { cause: e });
    throw new FerryError('IO_ERROR', `--media ${mediaRoot} is not writable (${code ?? 'error'}): check its permissions, or run as a user who may write there`, { cause: e });
  });
  const rootDev = (await fsp.stat('/')).dev;
  return st.dev === rootDev ? [`--media ${mediaRoot} is on the root file system, not on a mounted stick: check the path if you meant a stick`] : [];
}
