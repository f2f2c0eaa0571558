/**
 * Synchronous twins of fsx.ts's reads of media (checkUnder, openRegular, readFileCapped,
 * mediaFileSize, listMediaDir), for `ferry verify --media`, which has nothing to do while they
 * run (its largest blob is read with readSync on the same thread anyway). Each async call costs a
 * round trip through the libuv thread pool, and the first one loads node:fs/promises and starts
 * the pool's threads: a verify of a tiny stick took ~11 ms less CPU and wall without them
 * (chrt -r 50, 16 rounds, load 6). The checks are fsx's, in the same order with the same errors:
 * every folder between `under` and the file lstat'ed and refused unless a real folder, the file
 * itself no link and regular, opened O_NONBLOCK (O_NOFOLLOW below `under`), fstat'ed, and the
 * opened file the one lstat'ed. test/media/hostile-files.test.ts runs verify through them.
 */
import { closeSync, constants as fsc, type Dirent, fstatSync, lstatSync, opendirSync, openSync, readSync, type Stats } from 'node:fs';
import * as path from 'node:path';
import { FerryError } from '../errors.js';
import { kindOf, type OpenRegularOptions, unsafeMedia } from './fsx.js';

/** fsx.checkUnder, synchronously: lstat every folder between `under` and `file` and the file itself. */
function checkUnderSync(under: string, file: string): Stats {
  const rel = path.relative(under, file);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) throw new FerryError('INTERNAL', `${file} is not below ${under}`);
  let at = under;
  const parts = rel.split(path.sep);
  for (let i = 0; i < parts.length; i++) {
    at = path.join(at, parts[i]!);
    const st = lstatSync(at);
    const last = i === parts.length - 1;
    if (last ? !st.isFile() : !st.isDirectory()) throw unsafeMedia(at, kindOf(st));
    if (last) return st;
  }
  throw new FerryError('INTERNAL', `${file}: empty path`);
}

/** fsx.mediaFileSize, synchronously: the size of a regular file on media below `under`, or undefined when absent. */
export function mediaFileSizeSync(under: string, file: string): number | undefined {
  try {
    return checkUnderSync(under, file).size;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw e;
  }
}

/** fsx.openRegular, synchronously; returns the descriptor (the caller closes it with closeSync). */
export function openRegularSync(file: string, what: string, opts: OpenRegularOptions = {}): { fd: number; size: number } {
  const media = opts.media === true || opts.under !== undefined;
  const before = opts.under !== undefined ? checkUnderSync(opts.under, file) : undefined;
  let fd: number;
  try {
    fd = openSync(file, fsc.O_RDONLY | fsc.O_NONBLOCK | (opts.under !== undefined ? fsc.O_NOFOLLOW : 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (media && code === 'ELOOP') throw unsafeMedia(file, 'is a symbolic link');
    if (media && code === 'ENXIO') throw unsafeMedia(file, 'is a socket or device node');
    throw e;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) {
      throw media ? unsafeMedia(file, kindOf(st)) : new FerryError('INVALID_LAYOUT', `${what} ${file} is not a regular file`);
    }
    // the file checked by lstat must be the one opened (nothing swapped in between)
    if (before && (before.dev !== st.dev || before.ino !== st.ino)) throw unsafeMedia(file, 'changed while it was opened');
    return { fd, size: st.size };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** fsx.readFileCapped, synchronously: a whole small file of untrusted origin, refused over `maxBytes` before a byte past the cap is read. */
export function readFileCappedSync(file: string, maxBytes: number, what = 'file', opts: OpenRegularOptions = {}): Buffer {
  const { fd, size } = openRegularSync(file, what, opts);
  try {
    if (size > maxBytes) {
      throw new FerryError('FILE_TOO_LARGE', `${what} ${file} is ${size} bytes, over the ${maxBytes}-byte cap: the media is damaged or not ferry's`, {
        details: { file, size, cap: maxBytes },
      });
    }
    // at most cap+1 bytes even if the file grew since fstat
    const buf = Buffer.alloc(Math.min(size, maxBytes) + 1);
    let off = 0;
    for (;;) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) break;
      off += n;
      if (off === buf.length) break;
    }
    if (off > maxBytes) throw new FerryError('FILE_TOO_LARGE', `${what} ${file} grew over the ${maxBytes}-byte cap while being read`);
    return buf.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}

/** fsx.listMediaDir, synchronously: the names in a folder on media (links and special folders refused, at most `maxEntries`); undefined when absent. */
export function listMediaDirSync(under: string, dir: string, maxEntries: number): Dirent[] | undefined {
  let at = under;
  for (const part of path.relative(under, dir).split(path.sep).filter(Boolean)) {
    at = path.join(at, part);
    let st: Stats;
    try {
      st = lstatSync(at);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw e;
    }
    if (!st.isDirectory()) throw unsafeMedia(at, kindOf(st));
  }
  const d = opendirSync(dir, { bufferSize: 256 });
  const out: Dirent[] = [];
  try {
    for (let e = d.readSync(); e !== null; e = d.readSync()) {
      if (out.length >= maxEntries) {
        throw new FerryError('LIMIT_EXCEEDED', `${dir} holds more than ${maxEntries} entries: do not use this stick; report it to headquarters`, { details: { dir, cap: maxEntries } });
      }
      out.push(e);
    }
  } finally {
    d.closeSync();
  }
  return out;
}
