/**
 * Early writeback of a big file being written. Linux keeps written pages dirty in memory
 * until its thresholds are reached (10% of memory: gigabytes on an HQ machine), so a blob
 * copy ran at memory speed with the disk idle, and then the fsync before the rename waited
 * for the whole blob to reach the disk. Asking for an fdatasync every few dozen MiB while
 * the copy goes on (on the libuv pool, not awaited by the copy) makes the disk work in
 * parallel with the reads and the hashing; the final fsync only finds the tail left.
 * This changes when data reaches the disk, never the order of the commit: the caller
 * still fsyncs the whole file before it renames it (crash safety is unchanged).
 */
import type { FileHandle } from 'node:fs/promises';

/** Bytes written between two writeback requests (a 4 MiB-chunk copy asks every 16 chunks). */
export const WRITEBACK_STEP = 64 * 1024 * 1024;

/**
 * Requests in flight in this process. One at a time for all files: the disk is one queue, and
 * each request holds one of libuv's 4 pool threads until it is done, which the copies' writes
 * also need (an export from a registry copies three layers at once; a campaign's sticks,
 * shared-feed.ts, take turns: with four sticks four requests would hold the whole pool).
 */
let busy = false;

/** Starts an fdatasync of `fh` for every `step` bytes written, at most one in flight (in the whole process). */
export class EarlyWriteback {
  private since = 0;
  private pending: Promise<void> | undefined;
  private failure: unknown;

  constructor(
    private readonly fh: Pick<FileHandle, 'datasync'>,
    private readonly step = WRITEBACK_STEP,
  ) {}

  /** Count `n` bytes written to the file (call after the write completed). */
  wrote(n: number): void {
    this.since += n;
    // one at a time: a second request while the first runs would only queue behind it on the pool
    if (this.since < this.step || this.pending !== undefined || busy) return;
    this.since = 0;
    busy = true;
    this.pending = this.fh.datasync().then(
      () => {
        busy = false;
        this.pending = undefined;
      },
      (e: unknown) => {
        this.failure ??= e; // a write error the disk reported: the copy fails, never names the blob
        busy = false;
        this.pending = undefined;
      },
    );
  }

  /** Wait for the request in flight (before the file is closed); throws the first error one reported. */
  async settle(): Promise<void> {
    await this.pending;
    if (this.failure !== undefined) throw this.failure;
  }
}
