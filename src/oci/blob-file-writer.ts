/**
 * Where a verified copy (range-copy.ts) puts its bytes: a new file, written through the page
 * cache, or with `direct` straight from the copy's buffers to the disk (O_DIRECT).
 *
 * Why direct: a buffered write makes the kernel allocate and fill a page-cache page for every
 * 4 KiB, and on the bench VM fresh pages cost far more than the copy itself (perf of an export
 * from a registry: 34% of its CPU in `copy_folio_from_iter_atomic`, 2.1 s for 720 MiB, where a
 * direct write of the same bytes took 0.1 s of system time); the data must reach the disk before
 * the blob is named anyway (fsync before rename), and nothing reads it back through the cache.
 * Direct I/O needs the buffer, the length and the file offset aligned to the disk's blocks:
 * the chunk pool's buffers are page-aligned (chunk-hasher-parallel.ts), whole chunks are
 * written direct, and the last bytes of a blob that do not fill a block go through a second,
 * buffered descriptor of the same file. A file system that refuses O_DIRECT (EINVAL at open or
 * at the first write) gets buffered writes. Crash safety is unchanged: the caller still
 * fsyncs the whole file (one fsync covers both descriptors: it is per inode) before its rename.
 */
import { constants } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { dirname } from 'node:path';
import { EarlyWriteback } from '../util/writeback.js';

/**
 * Bytes per buffered write() call. The kernel picks the page-cache folio size from the write's
 * length; on the bench VM a 4 MiB write's copy into the page cache cost about 20 times what
 * skopeo's 32 KiB writes cost (perf: copy_folio_from_iter_atomic, 2.3 s vs 0.12 s for a
 * 724 MiB export), and 128-256 KiB writes cut ferry's wall time by a third under load.
 * Smaller pieces pay more in thread-pool round trips than they save.
 */
const WRITE_PIECE = 256 * 1024;

/** Direct writes cover whole blocks of this size (a page: the largest logical block of common disks). */
const DIRECT_ALIGN = 4096;

/** Write `len` bytes of `buf` to `out` in WRITE_PIECE pieces, at `pos` (else at the file's position). */
export async function writePieces(out: fsp.FileHandle, buf: Buffer, len: number, pos?: number): Promise<void> {
  for (let put = 0; put < len; ) put += (await out.write(buf, put, Math.min(WRITE_PIECE, len - put), pos === undefined ? null : pos + put)).bytesWritten;
}

const isEinval = (e: unknown): boolean => (e as NodeJS.ErrnoException).code === 'EINVAL';

/**
 * Kernel block file systems whose O_DIRECT writes behave (statfs f_type): ext2/3/4, XFS, Btrfs,
 * FAT, exFAT, F2FS. Others get buffered writes: a FUSE file system may accept the O_DIRECT open
 * and then fail the file's reads (fusefat: EPERM on read after direct writes), and tmpfs or
 * network file systems gain nothing from it.
 */
const DIRECT_FS = new Set([0xef53, 0x58465342, 0x9123683e, 0x4d44, 0x2011bab0, 0xf2f52010]);
/** Whether direct writes into `dir` are worth trying (one statfs per blob: a mount point may hold another stick later in a long run). */
export async function directOk(dir: string): Promise<boolean> {
  return fsp.statfs(dir).then((st) => DIRECT_FS.has(Number(st.type)), () => false);
}

/** A new file written chunk by chunk at explicit positions (direct writes may run side by side). */
export class BlobFileWriter {
  private buffered: fsp.FileHandle | undefined;
  private opening: Promise<fsp.FileHandle> | undefined;
  private readonly writeback: EarlyWriteback | undefined;

  private constructor(
    private readonly path: string,
    /** The descriptor opened first: O_DIRECT when `direct` still holds. */
    private readonly first: fsp.FileHandle,
    private isDirect: boolean,
  ) {
    // the disk writes the blob while it is copied, not all of it in the fsync before its rename
    // (direct writes are on the disk when they return: nothing to start early)
    this.writeback = isDirect ? undefined : new EarlyWriteback(first);
    if (!isDirect) this.buffered = first;
  }

  /** Writes still go straight to the disk (no refusal yet): they may run side by side. */
  get direct(): boolean {
    return this.isDirect;
  }

  /** Create `path` exclusively; `direct`: try O_DIRECT first where the file system is one that takes it (directOk). */
  static async create(path: string, direct: boolean): Promise<BlobFileWriter> {
    if (direct && constants.O_DIRECT !== undefined && (await directOk(dirname(path)))) {
      try {
        return new BlobFileWriter(path, await fsp.open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_DIRECT, 0o644), true);
      } catch (e) {
        if (!isEinval(e)) throw e; // EEXIST and the rest are real errors; EINVAL: no O_DIRECT on this file system
      }
    }
    return new BlobFileWriter(path, await fsp.open(path, 'wx', 0o644), false);
  }

  /**
   * Write the first `len` bytes of `buf` (a chunk-pool buffer when direct) at `pos` (a multiple
   * of the chunk size, or the end of what was written). The buffer must stay unchanged until this settles.
   */
  async write(buf: Buffer, len: number, pos: number): Promise<void> {
    let done = 0;
    if (this.isDirect) {
      const whole = len - (len % DIRECT_ALIGN);
      try {
        for (; done < whole; ) done += (await this.first.write(buf, done, whole - done, pos + done)).bytesWritten;
      } catch (e) {
        if (!isEinval(e) || done > 0) throw e;
        this.isDirect = false; // a direct write refused (an unaligned buffer or file system): buffered from here on
      }
    }
    if (done < len) {
      await writePieces(await this.bufferedHandle(), buf.subarray(done), len - done, pos + done);
      this.writeback?.wrote(len - done);
    }
  }

  private bufferedHandle(): Promise<fsp.FileHandle> {
    // one open for writes that ask at the same time
    return (this.opening ??= this.buffered ? Promise.resolve(this.buffered) : fsp.open(this.path, 'r+').then((h) => (this.buffered = h)));
  }

  /** Wait for background writeback; throws what it reported. */
  async settle(): Promise<void> {
    await this.writeback?.settle();
  }

  /** fsync the file (all its descriptors: fsync is per inode). */
  async sync(): Promise<void> {
    await (this.buffered ?? this.first).sync();
  }

  /** Close every descriptor (after settle). */
  async close(): Promise<void> {
    const second = this.buffered !== this.first ? this.buffered : undefined;
    await Promise.all([this.first.close(), second?.close()]);
  }
}
