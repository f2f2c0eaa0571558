/**
 * Synchronous twins of fsx.ts's reads of media (openRegular, readFileCapped, mediaFileSize,
 * listMediaDir), for `ferry verify --media`, which has nothing to do while they run (its largest
 * blob is read with readSync on the same thread anyway), and for thousands of ~1 KiB files
 * (receipts, device certificates: read-sync.ts). Each async call costs a round trip through the
 * libuv thread pool, and the first one loads node:fs/promises and starts the pool's threads: a
 * verify of a tiny stick took ~11 ms less CPU and wall without them (chrt -r 50, 16 rounds,
 * load 6). Only the system calls differ: every check and refusal is fsx's own function
 * (stepsBelow, checkStep, regularOpenFlags, openFailure, checkOpened, overCap, tooManyEntries),
 * so the two cannot drift apart; test/util/fsx-sync.test.ts runs both on hostile files.
 */
import { closeSync, type Dirent, fstatSync, lstatSync, opendirSync, openSync, readSync, type Stats } from 'node:fs';
import { checkOpened, checkStep, foldersBelow, isAbsent, openFailure, type OpenRegularOptions, overCap, regularOpenFlags, stepsBelow, tooManyEntries } from './fsx.js';

/** fsx's checkUnder, synchronously: lstat every step from `under` down to `file`; the file's own Stats. */
function checkUnderSync(under: string, file: string): Stats {
  let st: Stats | undefined;
  for (const { at, last } of stepsBelow(under, file)) checkStep((st = lstatSync(at)), at, last);
  return st!;
}

/** fsx.mediaFileSize, synchronously: the size of a regular file on media below `under`, or undefined when absent. */
export function mediaFileSizeSync(under: string, file: string): number | undefined {
  try {
    return checkUnderSync(under, file).size;
  } catch (e) {
    if (isAbsent(e)) return undefined;
    throw e;
  }
}

/** fsx.openRegular, synchronously; returns the descriptor (the caller closes it with closeSync). */
export function openRegularSync(file: string, what: string, opts: OpenRegularOptions = {}): { fd: number; size: number } {
  const media = opts.media === true || opts.under !== undefined;
  const before = opts.under !== undefined ? checkUnderSync(opts.under, file) : undefined;
  let fd: number;
  try {
    fd = openSync(file, regularOpenFlags(opts));
  } catch (e) {
    throw openFailure(e, file, media);
  }
  try {
    const st = fstatSync(fd);
    checkOpened(st, before, file, what, media);
    return { fd, size: st.size };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/**
 * Read at most `maxBytes` + 1 bytes of an open regular file of `size` bytes (fstat's): done once
 * the bytes fstat promised are in (no extra read that returns 0: one more system call per receipt),
 * but a read that comes back short before them (a FUSE or network file system may) is followed by
 * the next; FILE_TOO_LARGE when the file grew over the cap since fstat.
 */
export function readOpenedSync(fd: number, size: number, maxBytes: number, file: string, what: string): Buffer {
  const buf = Buffer.alloc(Math.min(size, maxBytes) + 1);
  let off = 0;
  for (let n = 1; n > 0 && off < buf.length && (off < size || off === 0); off += n) n = readSync(fd, buf, off, buf.length - off, off);
  if (off > maxBytes) throw overCap(file, what, maxBytes);
  return buf.subarray(0, off);
}

/** fsx.readFileCapped, synchronously: a whole small file of untrusted origin, refused over `maxBytes` before a byte past the cap is read. */
export function readFileCappedSync(file: string, maxBytes: number, what = 'file', opts: OpenRegularOptions = {}): Buffer {
  const { fd, size } = openRegularSync(file, what, opts);
  try {
    if (size > maxBytes) throw overCap(file, what, maxBytes, size);
    return readOpenedSync(fd, size, maxBytes, file, what);
  } finally {
    closeSync(fd);
  }
}

/** fsx.listMediaDir, synchronously: the names in a folder on media (links and special folders refused, at most `maxEntries`); undefined when absent. */
export function listMediaDirSync(under: string, dir: string, maxEntries: number): Dirent[] | undefined {
  for (const at of foldersBelow(under, dir)) {
    let st: Stats;
    try {
      st = lstatSync(at);
    } catch (e) {
      if (isAbsent(e)) return undefined;
      throw e;
    }
    checkStep(st, at, false);
  }
  const d = opendirSync(dir, { bufferSize: 256 });
  const out: Dirent[] = [];
  try {
    for (let e = d.readSync(); e !== null; e = d.readSync()) {
      if (out.length >= maxEntries) throw tooManyEntries(dir, maxEntries);
      out.push(e);
    }
  } finally {
    d.closeSync();
  }
  return out;
}
