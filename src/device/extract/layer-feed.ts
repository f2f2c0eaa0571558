/**
 * A layer decompressed on a worker thread from chunk-verified bytes (inflate-worker.ts):
 * the main thread only parses tar, hashes each file for the file index and feeds GNU tar,
 * while reading, the chunk check, the blob digest, decompression and the diff_id hash run
 * beside it on the second core. The checks are those of chunk-reader.ts + compress.ts +
 * DigestComputer, in the same order: no byte reaches the decompressor before its chunk
 * matched the signed chunk index, and the blob digest and diff_id are still checked.
 *
 * The decompressed bytes arrive in a ring of shared buffers (SLOTS x SLOT_SIZE, made once
 * per layer): no buffer is allocated per piece, which on the main thread had cost a full
 * garbage collection every few dozen MiB. A buffer goes back to the worker only after the
 * main thread is done with it, including GNU tar's pipe having taken every byte of it.
 * Where no worker thread can start, the caller falls back to the streams on the main thread.
 */
import type { FileHandle } from 'node:fs/promises';
import type { Worker } from 'node:worker_threads';
import { FerryError } from '../../errors.js';
import type { Compression } from '../../oci/types.js';
import { LazyWorker } from '../../util/lazy-worker.js';
import { INFLATE_WORKER_SOURCE } from './inflate-worker.js';

/** Bytes per ring buffer: node:zlib's output pieces (compress.ts CHUNK) fit one each. */
const SLOT_SIZE = 1024 * 1024;
/** Ring buffers per layer: how far decompression may run ahead of the tar parser. */
const SLOTS = 8;

/** What the worker is asked to read, check and decompress. */
export interface FeedJob {
  /** The blob's open file (LayerFeed.close() closes it) and where the blob starts in it. */
  fh: FileHandle;
  start: number;
  size: number;
  digest: string;
  chunks: readonly string[];
  chunkSize: number;
  compression: Compression;
  what: string;
  /** What a failed check says (chunk-reader.ts TAILS). */
  tails: { chunk: string; whole: string };
}

interface WorkerMessage {
  id: number;
  read?: number;
  slot?: number;
  len?: number;
  done?: boolean;
  diff?: string;
  bytes?: number;
  error?: { code: string; message: string; details: Record<string, unknown> };
  closed?: boolean;
}

let nextId = 0;
const feeds = new Map<number, LayerFeed>();

const inflater = new LazyWorker<WorkerMessage>(
  INFLATE_WORKER_SOURCE,
  'layer decompression',
  (m) => feeds.get(m.id)?.onMessage(m),
  (e) => {
    for (const f of [...feeds.values()]) f.onWorkerGone(e);
  },
);

/** A ring for LayerFeed.start to reuse across layers read one after another. */
export function newRing(): SharedArrayBuffer {
  return new SharedArrayBuffer(SLOTS * SLOT_SIZE);
}

/** One piece of decompressed layer: `buf` is valid until `release(slot)`. */
export interface Piece {
  slot: number;
  buf: Buffer;
}

/** The main thread's side of one layer being decompressed on the worker. */
export class LayerFeed {
  private readonly ring: SharedArrayBuffer;
  private readonly pieces: Piece[] = [];
  private wake: (() => void) | undefined;
  private failure: Error | undefined;
  private finished: { diff: string; bytes: number } | undefined;
  private closed = false;
  private whenClosed: (() => void) | undefined;
  private fhOpen = true;

  private constructor(
    private readonly fh: FileHandle,
    private readonly w: Worker,
    private readonly id: number,
    private readonly onRead: (n: number) => void,
    ring: SharedArrayBuffer | undefined,
  ) {
    this.ring = ring ?? newRing();
  }

  /**
   * Start decompressing `job` on the worker (the feed owns `job.fh` from here); undefined, with `job.fh` untouched, when no worker thread can run here.
   * `ring` (newRing()): one the caller reuses for its layers one after another, once the previous feed is closed and none of its pieces is read any more;
   * a ring per layer is 8 MiB of shared memory that only a full garbage collection frees.
   */
  static start(job: FeedJob, onRead: (n: number) => void, ring?: SharedArrayBuffer): LayerFeed | undefined {
    const w = inflater.get();
    if (!w) return undefined;
    const feed = new LayerFeed(job.fh, w, nextId++, onRead, ring);
    feeds.set(feed.id, feed);
    w.ref(); // a job in flight keeps the process alive until the worker is done with it
    const { fh, ...rest } = job;
    w.postMessage({ start: { ...rest, id: feed.id, fd: fh.fd, ring: feed.ring, slots: SLOTS, slotSize: SLOT_SIZE } });
    return feed;
  }

  /** The next piece in order; undefined at the end of the layer; throws what the worker found. */
  async next(): Promise<Piece | undefined> {
    for (;;) {
      const p = this.pieces.shift();
      if (p) return p;
      if (this.failure) throw this.failure;
      if (this.finished) return undefined;
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  /** Fail the feed from outside (a cancel): the next `next()` throws `e`. */
  fail(e: Error): void {
    this.failure ??= e;
    this.wake?.();
    this.wake = undefined;
  }

  /** Give a piece's buffer back to the worker (nothing may read it afterwards). */
  release(slot: number): void {
    if (!this.closed) this.w.postMessage({ id: this.id, free: slot });
  }

  /** The decompressed stream's digest and size; only after `next()` returned undefined. */
  result(): { diff: string; bytes: number } {
    if (!this.finished) throw new FerryError('INTERNAL', 'layer feed read before its end');
    return this.finished;
  }

  /** Stop the job if it still runs, wait until the worker no longer reads the file, then close it. */
  async close(): Promise<void> {
    if (!this.closed) {
      const gone = new Promise<void>((r) => (this.whenClosed = r));
      this.w.postMessage({ id: this.id, abort: true });
      await gone;
    }
    if (this.fhOpen) {
      this.fhOpen = false;
      await this.fh.close();
    }
  }

  /** @internal a message of the worker about this job. */
  onMessage(m: WorkerMessage): void {
    if (m.read !== undefined) this.onRead(m.read);
    else if (m.slot !== undefined) this.pieces.push({ slot: m.slot, buf: Buffer.from(this.ring, m.slot * SLOT_SIZE, m.len) });
    else if (m.done) this.finished = { diff: m.diff!, bytes: m.bytes! };
    else if (m.error) this.failure = toError(m.error);
    else if (m.closed) this.settle();
    this.wake?.();
    this.wake = undefined;
  }

  /** @internal the worker died: nothing of it runs any more. */
  onWorkerGone(e: Error): void {
    this.failure ??= new FerryError('INTERNAL', `layer decompression stopped: ${e.message}`, { cause: e });
    this.settle();
    this.wake?.();
    this.wake = undefined;
  }

  private settle(): void {
    if (this.closed) return;
    this.closed = true;
    feeds.delete(this.id);
    if (feeds.size === 0) this.w.unref();
    this.whenClosed?.();
  }
}

/** The worker's report as the error the streams on the main thread would have thrown. */
function toError(e: { code: string; message: string; details: Record<string, unknown> }): Error {
  // a read that failed: the errno error, mapped by the caller as before (toFerryError)
  if (e.code === 'READ') return Object.assign(new Error(e.message), { code: e.details.errno });
  return new FerryError(e.code as ConstructorParameters<typeof FerryError>[0], e.message, { details: e.details });
}
