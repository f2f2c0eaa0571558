/**
 * One blob read once for several sticks. The read fills 4 MiB buffers of a ChunkDigester
 * pool (positioned reads of a file range, a registry download's own reads, or a stream
 * copied in), hands every stick the very same buffer, and once every stick has written it,
 * moves the buffer to the hashing thread (chunk digest, blob digest, gzip scan) which hands
 * it back for the next read. So the bytes are read once and hashed once, off the main
 * thread, and each stick only writes. The pool bounds memory and sets the pace: a buffer
 * comes back only when the slowest stick has written it. A stick that fails leaves, its
 * buffers count as written, and the others go on.
 */
import { Readable } from 'node:stream';
import { ChunkDigester } from '../../oci/chunk-hasher-parallel.js';
import { DEFAULT_CHUNK_SIZE } from '../../oci/chunk-index.js';
import { type ChunkSource, fileChunkSource, type FileRange } from '../../oci/range-copy.js';
import { type PreHashed, SHARED_FEED, type SharedFeed } from '../../oci/shared-feed.js';

/** Buffers per blob read: one being read, one being written by the sticks, one at the hasher, two of slack. */
const BUFFERS = 5;

/** Where a shared blob's bytes come from; the read takes a file range or a ChunkSource when there is one, else the stream. */
export interface BlobOrigin {
  open(): Readable;
  range?: () => Promise<FileRange | undefined>;
  /** A ChunkSource of the bytes (a registry download); used only when `size` is known. */
  chunks?: () => ChunkSource;
  size?: number;
  /** A gzip layer: scan for member headers in the same read (its unpacked size, unpacked-size.ts). */
  scanGzip?: boolean;
  what: string;
}

/** Fills a buffer from its start; fewer bytes than the buffer holds only at the end. */
interface Filler {
  fill(buf: Buffer): Promise<number>;
  close(): Promise<void>;
}

function sizedFiller(src: ChunkSource, size: number): Filler {
  let off = 0;
  return {
    async fill(buf) {
      const len = Math.min(buf.length, size - off);
      if (len > 0) await src.read(buf, len);
      off += len;
      return len;
    },
    close: () => src.close(),
  };
}

function streamFiller(stream: Readable): Filler {
  const it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let rest: Buffer = Buffer.alloc(0);
  let ended = false;
  return {
    async fill(buf) {
      let n = 0;
      while (n < buf.length) {
        if (rest.length === 0) {
          if (ended) break;
          const r = await it.next();
          if (r.done) {
            ended = true;
            break;
          }
          rest = r.value;
        }
        const k = rest.copy(buf, n);
        n += k;
        rest = rest.subarray(k);
      }
      return n;
    },
    close: async () => void stream.destroy(),
  };
}

async function openFiller(o: BlobOrigin): Promise<Filler> {
  const range = o.range ? await o.range() : undefined;
  if (range) return sizedFiller(await fileChunkSource(range, o.what), range.size);
  if (o.chunks && o.size !== undefined) return sizedFiller(o.chunks(), o.size);
  return streamFiller(o.open());
}

/** One buffer of the read and how many sticks still have to write it. */
interface Piece {
  buf: Buffer;
  len: number;
  left: number;
}

/** One stick's feed of a SharedBlob. */
class Branch implements SharedFeed {
  private readonly queue: Piece[] = [];
  /** Pieces of `queue` handed out by next() and not yet written. */
  private handed = 0;
  private wake: (() => void) | undefined;
  private gone = false;

  constructor(private readonly blob: SharedBlob) {}

  get hashed(): Promise<PreHashed> {
    return this.blob.hashed;
  }

  async next(): Promise<Buffer | undefined> {
    for (;;) {
      if (this.blob.failure !== undefined) throw this.blob.failure;
      const p = this.queue[this.handed];
      if (p) return (this.handed++, p.buf.subarray(0, p.len));
      if (this.blob.ended || this.gone) return undefined;
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  written(): void {
    if (this.handed === 0) return;
    this.handed--;
    this.blob.ack(this.queue.shift()!);
  }

  leave(): void {
    if (this.gone) return;
    this.gone = true;
    this.handed = 0;
    for (const p of this.queue.splice(0)) this.blob.ack(p);
    this.blob.drop(this);
    this.poke();
  }

  push(p: Piece): void {
    this.queue.push(p);
    this.poke();
  }

  poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}

/** The feed as a stream too, for a stick that pipes it (a checked layer copy, a re-encode): each chunk copied out, then given back. */
function feedStream(feed: Branch): Readable {
  const s = new Readable({
    read() {
      feed.next().then(
        (c) => {
          if (!c) return void (feed.leave(), s.push(null));
          const copy = Buffer.from(c);
          feed.written();
          s.push(copy);
        },
        (e: unknown) => (feed.leave(), s.destroy(e as Error)),
      );
    },
    destroy(err, cb) {
      feed.leave();
      cb(err);
    },
  });
  return Object.assign(s, { [SHARED_FEED]: feed as SharedFeed });
}

/** A blob read once for the sticks that take a branch before `start`. */
export class SharedBlob {
  private readonly live = new Set<Branch>();
  /** Pieces read and not yet moved to the hasher, in read order (the hasher must see them in order). */
  private readonly pending: Piece[] = [];
  private drained: (() => void) | undefined;
  private digester: ChunkDigester | undefined;
  ended = false;
  failure: unknown;
  readonly hashed: Promise<PreHashed>;
  private settle!: { resolve: (h: PreHashed) => void; reject: (e: unknown) => void };

  constructor(private readonly origin: BlobOrigin) {
    this.hashed = new Promise<PreHashed>((resolve, reject) => (this.settle = { resolve, reject }));
    this.hashed.catch(() => undefined); // a read nobody waits for any more must not be an unhandled rejection
  }

  /** A new stick's branch: a stream carrying its SharedFeed (`stream[SHARED_FEED]`). */
  branch(): Readable {
    const b = new Branch(this);
    this.live.add(b);
    return feedStream(b);
  }

  /** Start the read (once every branch is taken). */
  start(): void {
    void this.run();
  }

  ack(p: Piece): void {
    p.left--;
    this.submitDone();
  }

  drop(b: Branch): void {
    this.live.delete(b);
  }

  private submitDone(): void {
    while (this.pending.length > 0 && this.pending[0]!.left <= 0) {
      const p = this.pending.shift()!;
      this.digester!.submit(p.buf, p.len); // the buffer moves to the hasher and comes back to the pool
    }
    if (this.pending.length === 0) this.drained?.();
  }

  private async allWritten(): Promise<void> {
    if (this.pending.length > 0) await new Promise<void>((r) => (this.drained = r));
  }

  private async run(): Promise<void> {
    const scan = this.origin.scanGzip ?? false;
    const digester = (this.digester = new ChunkDigester(DEFAULT_CHUNK_SIZE, BUFFERS, scan, true));
    let src: Filler | undefined;
    let size = 0;
    try {
      src = await openFiller(this.origin);
      for (;;) {
        const buf = await digester.acquire();
        const len = await src.fill(buf).catch((e: unknown) => {
          digester.release(buf);
          throw e;
        });
        if (this.live.size === 0) {
          digester.release(buf);
          throw new Error(`${this.origin.what}: every stick left the read`);
        }
        if (len === 0) {
          digester.release(buf);
          break;
        }
        size += len;
        const piece: Piece = { buf, len, left: this.live.size };
        this.pending.push(piece);
        for (const b of this.live) b.push(piece);
        if (len < buf.length) break;
      }
      this.ended = true;
      for (const b of this.live) b.poke();
      await this.allWritten();
      const chunks = await digester.finish();
      const hex = await digester.wholeDigest();
      this.settle.resolve({ digest: `sha256:${hex}`, size, chunks, ...(scan ? { gzipMultiMember: digester.maybeMultiMember()! } : {}) });
    } catch (e) {
      this.failure = e;
      this.settle.reject(e);
      for (const b of this.live) b.poke();
      await this.allWritten();
      await digester.finish().catch(() => undefined);
      await digester.wholeDigest().catch(() => undefined); // the hashing thread forgets this blob
    } finally {
      await src?.close().catch(() => undefined);
    }
  }
}
