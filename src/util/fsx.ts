/**
 * Crash-safe file primitives shared by the media writer and the device state:
 * write to a temporary name, fsync, rename, fsync the directory; and capped reads
 * of untrusted files.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsc, type Dirent, renameSync, type Stats } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { Readable } from 'node:stream';
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

/** fsync a file written (and closed) earlier: its data reaches the disk before it is renamed. */
export async function syncFile(file: string): Promise<void> {
  const fh = await fsp.open(file, fsc.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Atomically replace `target` with `data`: temp file, fsync, rename, fsync dir. `onRenamed`
 * runs in the same synchronous step as the rename (no signal handler can run between them):
 * for a commit point that a Ctrl-C handler must see exactly as the disk does.
 */
export async function writeFileAtomic(target: string, data: string | Uint8Array, mode = 0o644, onRenamed?: () => void): Promise<void> {
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
  if (onRenamed) {
    renameSync(tmp, target);
    onRenamed();
  } else {
    await fsp.rename(tmp, target);
  }
  await syncRenamed(target);
}

/**
 * Make a rename to `target` durable: fsync the file under its new name, then its directory.
 * The file comes first for FAT (sticks, the EFI System Partition): Linux's vfat rename writes
 * the new entry with size 0 and no clusters and fills them in only when the file's inode is
 * written back, so a directory fsync alone put a 0-byte file on the disk, and a power cut
 * after it left an empty receipt on the stick (found by the VM power-cut test).
 */
export async function syncRenamed(target: string): Promise<void> {
  await syncFile(target);
  await fsyncDir(path.dirname(target));
}

/** How a file is opened by openRegular. */
export interface OpenRegularOptions {
  /**
   * The file lies on ferry media below this folder (the media root or its layout): every
   * folder between it and the file must be a real folder (not a link), and the file itself
   * a regular file that is no link; anything else is UNSAFE_MEDIA.
   */
  under?: string;
  /** The file is media given by path (an archive; the path may be a link): anything but a regular file is UNSAFE_MEDIA. */
  media?: boolean;
}

/** A regular file opened by openRegular, with its size at open time. */
export interface RegularFile {
  fh: fsp.FileHandle;
  size: number;
}

/** The refusal for a special file or link on media: one line naming the path. */
export function unsafeMedia(file: string, why: string): FerryError {
  return new FerryError('UNSAFE_MEDIA', `${file} ${why}: do not use this stick; report it to headquarters`, { details: { file } });
}

/** True for the refusals that condemn a whole stick (UNSAFE_MEDIA, LIMIT_EXCEEDED): never downgraded to one bad update or blob. */
export function isHostileMedia(e: unknown): boolean {
  return e instanceof FerryError && (e.code === 'UNSAFE_MEDIA' || e.code === 'LIMIT_EXCEEDED');
}

/** What a file that is not what was expected is, for UNSAFE_MEDIA messages ("is a symbolic link"). */
export function kindOf(st: Stats): string {
  if (st.isSymbolicLink()) return 'is a symbolic link';
  if (st.isFIFO()) return 'is a FIFO (named pipe)';
  if (st.isSocket()) return 'is a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'is a device node';
  if (st.isDirectory()) return 'is a folder, not a file';
  return 'is not a regular file';
}

/**
 * The paths from `under` down to `file`, each with whether it is the file itself: every one is
 * lstat'ed before anything is opened (checkStep), because opening a device node can have side
 * effects and a folder link would steer the read to the device's own files.
 */
export function stepsBelow(under: string, file: string): Array<{ at: string; last: boolean }> {
  const rel = path.relative(under, file);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) throw new FerryError('INTERNAL', `${file} is not below ${under}`);
  const parts = rel.split(path.sep);
  let at = under;
  return parts.map((p, i) => ({ at: (at = path.join(at, p)), last: i === parts.length - 1 }));
}

/** The folders from below `under` down to `dir` itself (listMediaDir lstats each: all must be real folders). */
export function foldersBelow(under: string, dir: string): string[] {
  let at = under;
  return path.relative(under, dir).split(path.sep).filter(Boolean).map((p) => (at = path.join(at, p)));
}

/** Refuse (UNSAFE_MEDIA) a step of stepsBelow that is not a real folder, or for the file itself not a regular file. */
export function checkStep(st: Stats, at: string, last: boolean): void {
  if (last ? !st.isFile() : !st.isDirectory()) throw unsafeMedia(at, kindOf(st));
}

/** True for the errno codes that mean "not there" on the way to a file (ENOENT, ENOTDIR). */
export function isAbsent(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** open(2) flags of openRegular: never blocks (O_NONBLOCK), never follows a link below `under` (O_NOFOLLOW). */
export function regularOpenFlags(opts: OpenRegularOptions): number {
  return fsc.O_RDONLY | fsc.O_NONBLOCK | (opts.under !== undefined ? fsc.O_NOFOLLOW : 0);
}

/** What a failed open of media turns into: a link or special file is UNSAFE_MEDIA; other errors keep their errno code. */
export function openFailure(e: unknown, file: string, media: boolean): unknown {
  const code = (e as NodeJS.ErrnoException).code;
  if (media && code === 'ELOOP') return unsafeMedia(file, 'is a symbolic link');
  if (media && code === 'ENXIO') return unsafeMedia(file, 'is a socket or device node');
  return e;
}

/** Refuse an opened file that is not regular, or not the one lstat'ed before the open (`before`: nothing swapped in between). */
export function checkOpened(st: Stats, before: Stats | undefined, file: string, what: string, media: boolean): void {
  if (!st.isFile()) throw media ? unsafeMedia(file, kindOf(st)) : new FerryError('INVALID_LAYOUT', `${what} ${file} is not a regular file`);
  if (before && (before.dev !== st.dev || before.ino !== st.ino)) throw unsafeMedia(file, 'changed while it was opened');
}

/** FILE_TOO_LARGE for a file of untrusted origin over its cap (`size` undefined: it grew over the cap while read). */
export function overCap(file: string, what: string, maxBytes: number, size?: number): FerryError {
  if (size === undefined) return new FerryError('FILE_TOO_LARGE', `${what} ${file} grew over the ${maxBytes}-byte cap while being read`);
  return new FerryError('FILE_TOO_LARGE', `${what} ${file} is ${size} bytes, over the ${maxBytes}-byte cap: the media is damaged or not ferry's`, {
    details: { file, size, cap: maxBytes },
  });
}

/** LIMIT_EXCEEDED for a folder on media with more than `maxEntries` names. */
export function tooManyEntries(dir: string, maxEntries: number): FerryError {
  return new FerryError('LIMIT_EXCEEDED', `${dir} holds more than ${maxEntries} entries: do not use this stick; report it to headquarters`, { details: { dir, cap: maxEntries } });
}

/** lstat every step from `under` down to `file` (stepsBelow, checkStep); the file's own Stats. */
async function checkUnder(under: string, file: string): Promise<Stats> {
  let st: Stats | undefined;
  for (const { at, last } of stepsBelow(under, file)) checkStep((st = await fsp.lstat(at)), at, last);
  return st!;
}

/** The size of a regular file on media below `under` (UNSAFE_MEDIA for links and special files on the way), or undefined when absent. */
export async function mediaFileSize(under: string, file: string): Promise<number | undefined> {
  try {
    return (await checkUnder(under, file)).size;
  } catch (e) {
    if (isAbsent(e)) return undefined;
    throw e;
  }
}

/**
 * Open a file for reading without ever blocking or following a link into the device:
 * O_NONBLOCK (a FIFO or device would otherwise hang open() for ever), O_NOFOLLOW below `under`,
 * then fstat: anything but a regular file is refused (UNSAFE_MEDIA on media). O_NONBLOCK has
 * no effect on the reads of a regular file, so it is left set; libuv adds O_CLOEXEC to every open. Errors other than these
 * (ENOENT, EACCES) keep their errno code for the caller.
 */
export async function openRegular(file: string, what: string, opts: OpenRegularOptions = {}): Promise<RegularFile> {
  const media = opts.media === true || opts.under !== undefined;
  const before = opts.under !== undefined ? await checkUnder(opts.under, file) : undefined;
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, regularOpenFlags(opts));
  } catch (e) {
    throw openFailure(e, file, media);
  }
  try {
    const st = await fh.stat();
    checkOpened(st, before, file, what, media);
    return { fh, size: st.size };
  } catch (e) {
    await fh.close().catch(() => undefined);
    throw e;
  }
}

/**
 * Read a whole file of untrusted origin, refusing it when larger than `maxBytes`
 * before reading a single byte past the cap; never blocks on a FIFO (openRegular).
 */
export async function readFileCapped(file: string, maxBytes: number, what = 'file', opts: OpenRegularOptions = {}): Promise<Buffer> {
  const { fh, size } = await openRegular(file, what, opts);
  try {
    if (size > maxBytes) throw overCap(file, what, maxBytes, size);
    // Read at most cap+1 bytes even if the file grew since stat.
    const buf = Buffer.alloc(Math.min(size, maxBytes) + 1);
    let off = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, off, buf.length - off, off);
      if (bytesRead === 0) break;
      off += bytesRead;
      if (off === buf.length) break;
    }
    if (off > maxBytes) throw overCap(file, what, maxBytes);
    return buf.subarray(0, off);
  } finally {
    await fh.close();
  }
}

/** Options of streamRegular: openRegular's, plus an inclusive byte range. */
export interface StreamRegularOptions extends OpenRegularOptions {
  start?: number;
  /** Last byte to read (inclusive, as fs.createReadStream). */
  end?: number;
  highWaterMark?: number;
}

/**
 * A stream of a file's bytes opened by openRegular (so a FIFO, device or link fails the
 * stream with UNSAFE_MEDIA instead of hanging it); errors keep their errno code (ENOENT).
 */
export function streamRegular(file: string, what: string, opts: StreamRegularOptions = {}): Readable {
  const chunk = opts.highWaterMark ?? 1024 * 1024;
  let fh: fsp.FileHandle | undefined;
  let pos = opts.start ?? 0;
  const end = opts.end ?? Infinity;
  return new Readable({
    highWaterMark: chunk,
    construct(cb) {
      openRegular(file, what, opts).then(
        (f) => {
          fh = f.fh;
          cb();
        },
        (e: Error) => cb(e),
      );
    },
    read() {
      const want = Math.min(chunk, end + 1 - pos);
      if (want <= 0) {
        this.push(null);
        return;
      }
      const buf = Buffer.allocUnsafe(want);
      fh!.read(buf, 0, want, pos).then(
        ({ bytesRead }) => {
          if (bytesRead === 0) {
            this.push(null);
            return;
          }
          pos += bytesRead;
          this.push(bytesRead === want ? buf : buf.subarray(0, bytesRead));
        },
        (e: Error) => this.destroy(e),
      );
    },
    destroy(err, cb) {
      if (!fh) return cb(err);
      fh.close().then(
        () => cb(err),
        () => cb(err),
      );
    },
  });
}

/**
 * The names in a folder on media, refusing a folder that is a link or special file
 * (UNSAFE_MEDIA) and more than `maxEntries` names (LIMIT_EXCEEDED); undefined when absent.
 * Folders between `under` and `dir` must be real folders too.
 */
export async function listMediaDir(under: string, dir: string, maxEntries: number): Promise<Dirent[] | undefined> {
  for (const at of foldersBelow(under, dir)) {
    const st = await fsp.lstat(at).catch((e: unknown) => {
      if (isAbsent(e)) return undefined;
      throw e;
    });
    if (!st) return undefined;
    checkStep(st, at, false);
  }
  const d = await fsp.opendir(dir, { bufferSize: 256 });
  const out: Dirent[] = [];
  // leaving the for-await (also by throwing) closes the Dir
  for await (const e of d) {
    if (out.length >= maxEntries) throw tooManyEntries(dir, maxEntries);
    out.push(e);
  }
  return out;
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
