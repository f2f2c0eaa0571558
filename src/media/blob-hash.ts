/**
 * Whole-blob SHA-256 of a file on the media (or of a byte range of an archive read in place),
 * for `ferry verify`: read and hashed on the calling thread, as `openssl dgst` does, while the
 * reads are cheap page-cache copies and the thread has a core; read ahead on the thread pool
 * when the reads wait for a device, the thread waits for a core, or the copies cost enough of the
 * hash that a free second core (the caller says when there is one) is worth handing them to.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, read, readSync } from 'node:fs';
import { openRegularSync } from '../util/fsx-sync.js';

/**
 * 1 MiB reads: each chunk is hashed while it is still in this core's cache, and the buffers
 * stay small because every fresh page costs a fault (~25 µs each on the bench VM: a new 4 MiB
 * buffer took 25 ms to fill, against 0.3 ms once faulted in).
 */
const CHUNK = 1024 * 1024;
/**
 * When reading has taken longer than hashing (over 4 MiB), the bytes come from a device, not
 * the page cache (there a 1 MiB copy takes 0.1-0.5 ms and its hash ~0.75 ms): the rest of the
 * blob is read ahead on the thread pool.
 */
const SLOW_AFTER = 4 * CHUNK;
/** Between chunks read on this thread, the event loop runs every 8 MiB (Ctrl-C, progress, the worker's messages). */
const YIELD_BYTES = 8 * 1024 * 1024;
/**
 * With a second core free, the reads move to the thread pool once their copies have taken this
 * share of the hash's time. A chunk another core copied hashes slower (it is not in this core's
 * cache), so the hand-over only pays where the copies are dear: the 316 MB rootfs layer here
 * (2026-12-02 13:00, page cache) read in 19-26 ms against 185-206 ms of hash (0.10-0.14), and
 * read ahead from the start it took as long or longer with ~60-120 ms more CPU; a session at
 * load 7-14 measured reads at 85 ms against 260 ms (0.33), where reading ahead won by ~50 ms.
 */
const COPY_SHARE = 0.25;
/**
 * A thread that got less than this share of a core for two 8 MiB stretches runs on a busy
 * machine: there a read in flight on the thread pool is copied while this thread waits for a
 * core. Same layer, normal priority, load 23: 1.32 s inline against 0.70 s overlapped.
 */
const BUSY_SHARE = 0.6;

/** The read buffers of one run, reused from blob to blob (allocated on first use). */
export class ReadBuffers {
  private readonly bufs: Buffer[] = [];

  /** Buffer `i` (0 or 1). */
  get(i: number): Buffer {
    return (this.bufs[i] ??= Buffer.allocUnsafeSlow(CHUNK));
  }
}

type Span = { pos: number; end: number };

/** This thread's CPU time and the wall clock, in µs (a Node without process.threadCpuUsage, added in 23.9, counts as never busy: engines allows 22.15). */
function clocks(): { cpu: number; wall: number } {
  const wall = Number(process.hrtime.bigint() / 1000n);
  if (typeof process.threadCpuUsage !== 'function') return { cpu: wall, wall };
  const u = process.threadCpuUsage();
  return { cpu: u.user + u.system, wall };
}

/**
 * Read and hash on this thread, as `openssl dgst` does, while the reads are page-cache copies;
 * returns false (the caller reads ahead on the thread pool for the rest) when the reads wait for
 * a device (reading has taken longer than hashing), the thread waits for a core (under 60% of
 * one for two 8 MiB stretches), or at an 8 MiB stretch `opts.overlap` says a second core is free
 * and the copies have cost COPY_SHARE of the hash.
 */
async function hashInline(fd: number, hash: Hash, at: Span, buf: Buffer, opts: HashFileOptions, onBytes?: (n: number) => void): Promise<boolean> {
  const from = at.pos;
  const inlineBytes = opts.inlineBytes ?? Infinity;
  const copyShare = opts.copyShare ?? COPY_SHARE;
  let reading = 0n;
  let hashing = 0n;
  let busy = 0;
  let sinceYield = 0;
  let last = clocks();
  for (;;) {
    const want = Math.min(buf.length, at.end - at.pos);
    if (want <= 0) return true;
    if (at.pos - from >= inlineBytes) return false;
    const t0 = process.hrtime.bigint();
    const n = readSync(fd, buf, 0, want, at.pos);
    if (n === 0) return true;
    const t1 = process.hrtime.bigint();
    hash.update(buf.subarray(0, n));
    at.pos += n;
    onBytes?.(n);
    // the first read of a fresh buffer pays its page faults: timed from the second chunk on
    if (at.pos - from > n) {
      reading += t1 - t0;
      hashing += process.hrtime.bigint() - t1;
      if (reading > hashing && at.pos - from > SLOW_AFTER) return false;
    }
    if ((sinceYield += n) < YIELD_BYTES) continue;
    sinceYield = 0;
    if (opts.overlap?.() && Number(reading) >= copyShare * Number(hashing)) return false;
    const now = clocks();
    if (now.cpu - last.cpu < BUSY_SHARE * (now.wall - last.wall) && ++busy >= 2) return false;
    await new Promise<void>((resolve) => setImmediate(resolve));
    last = clocks();
  }
}

/** One read on the thread pool. */
function readAt(fd: number, buf: Buffer, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => read(fd, buf, 0, length, position, (e, n) => (e ? reject(e) : resolve(n))));
}

/** Read ahead on the thread pool (the next chunk in flight while this one is hashed): for a slow device, a busy machine or dear copies. */
async function hashOverlapped(fd: number, hash: Hash, at: Span, bufs: ReadBuffers, onBytes?: (n: number) => void): Promise<void> {
  const want = (pos: number) => Math.min(CHUNK, at.end - pos);
  let i = 0;
  // one read in flight at a time: when it fails, nothing else reads the descriptor the caller closes
  let pending = want(at.pos) > 0 ? readAt(fd, bufs.get(0), want(at.pos), at.pos) : undefined;
  while (pending) {
    const bytesRead = await pending;
    if (bytesRead === 0) break;
    const cur = bufs.get(i);
    i ^= 1;
    at.pos += bytesRead;
    pending = want(at.pos) > 0 ? readAt(fd, bufs.get(i), want(at.pos), at.pos) : undefined;
    hash.update(cur.subarray(0, bytesRead));
    onBytes?.(bytesRead);
  }
}

/**
 * How hashFile reads: `bufs` to reuse; `inlineBytes` caps the part read on this thread (tests
 * take both paths with it); `overlap` says whether a second core is free for the reads right
 * now (asked every 8 MiB): then the rest is read ahead on the thread pool if the copies have
 * cost `copyShare` (default COPY_SHARE; tests pass 0) of the hash's time.
 */
export interface HashFileOptions {
  bufs?: ReadBuffers;
  inlineBytes?: number;
  overlap?: () => boolean;
  copyShare?: number;
}

/** sha256 of a file, or of `range` (a blob inside an archive read in place). */
export async function hashFile(file: string, onBytes?: (n: number) => void, range?: { start: number; size: number; under?: string }, opts: HashFileOptions = {}): Promise<{ digest: string; size: number }> {
  const bufs = opts.bufs ?? new ReadBuffers();
  // opened and checked with synchronous calls (fsx-sync.ts): verify has nothing to overlap with them
  const { fd } = openRegularSync(file, 'blob', { media: true, ...(range?.under !== undefined ? { under: range.under } : {}) });
  try {
    const hash = createHash('sha256');
    const start = range?.start ?? 0;
    const at: Span = { pos: start, end: range ? range.start + range.size : Infinity };
    if (!(await hashInline(fd, hash, at, bufs.get(0), opts, onBytes))) await hashOverlapped(fd, hash, at, bufs, onBytes);
    return { digest: `sha256:${hash.digest('hex')}`, size: at.pos - start };
  } finally {
    closeSync(fd);
  }
}
