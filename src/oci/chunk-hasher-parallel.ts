/**
 * Chunk digests, and the whole-blob digest, computed on a worker thread beside the copy:
 * export pays for the chunk index with a second core instead of a second pass (bench: export
 * with the chunk index vs skopeo copy). `split` hashes the chunks there and the whole blob on the
 * copy's thread at the same time (a copy from a file, whose thread otherwise only waits).
 *
 * The copy reads each chunk straight into a buffer of this digester's pool; once written,
 * the worker hashes it in place and answers with the chunk's digest. The buffers are
 * SharedArrayBuffers that the worker was given once, when each was made: a message names a
 * buffer by its slot. Moving (transferring) an ArrayBuffer instead made a new 4 MiB external
 * object in each thread per chunk, and V8 answered that churn with a full GC every ~50 MiB
 * (15-19 per 1 GiB export from a registry, whose main thread otherwise allocates little).
 * No byte is copied and no memory is allocated per chunk; memory is the pool, idle buffers kept
 * for the next digester. A buffer may be a piece of a chunk (`pieceSize`, e.g. 1 MiB of a 4 MiB
 * chunk): the worker then carries the chunk's hash from piece to piece. Small pieces keep the
 * pool small, and fresh memory is what costs here: each 4 KiB page is a fault the first time it
 * is filled (~25-50 µs on the bench VM), so a pool of 6 x 4 MiB cost every export ~6,000 faults
 * (0.15-0.3 s of CPU, in the copy's path), 8 x 1 MiB costs 2,000. The worker is one per process, started on first
 * use from inline source (so it also runs from the single executable, which has no files
 * beside it), and does not keep the process alive when idle. Where no worker can start,
 * chunks are hashed on the main thread.
 */
import { createHash, type Hash } from 'node:crypto';
import type { Worker } from 'node:worker_threads';
import { DEFAULT_CHUNK_SIZE } from './chunk-index.js';
import { chunkHasMemberHeader, hasMemberHeader } from './unpacked-size.js';
import { WORKER_SOURCE } from './chunk-hasher-worker.js';
import { LazyWorker } from '../util/lazy-worker.js';

interface ChunkResult {
  hex: string;
  header: boolean;
}

interface Job {
  resolve: (r: ChunkResult) => void;
  reject: (e: Error) => void;
}

let nextId = 0;
const jobs = new Map<number, Job>();

const hasher = new LazyWorker<ChunkResult & { id: number }>(
  WORKER_SOURCE,
  'chunk hashing',
  (m, w) => {
    const j = jobs.get(m.id);
    jobs.delete(m.id);
    if (jobs.size === 0) w.unref();
    j?.resolve(m);
  },
  (e) => {
    for (const j of jobs.values()) j.reject(e);
    jobs.clear();
  },
);

function getWorker(): Worker | undefined {
  return hasher.get();
}

/** Start the hashing thread now (it takes tens of ms), so it is up when the first chunk is read; returns it (undefined where none can run). */
export function warmChunkHasher(): Worker | undefined {
  return getWorker();
}

/** A pool buffer: the worker knows it by `id` (given to it once, when the buffer was made). */
interface Slot {
  id: number;
  sab: SharedArrayBuffer;
  /** The worker that was given it; another (after a worker died) does not know it. */
  known: Worker | undefined;
}

/** Idle buffers kept for the next digester, per buffer size (one blob's worth; the rest are dropped). */
const MAX_SPARE = 8;
const spare = new Map<number, Slot[]>();
const slotOf = new WeakMap<ArrayBufferLike, Slot>();
let nextSlot = 0;

const WASM_PAGE = 64 * 1024;

/** The part of the WebAssembly global used here (tsconfig's lib has no WebAssembly values). */
const wasm = (globalThis as { WebAssembly?: { Memory: new (d: { initial: number; maximum: number; shared: boolean }) => { buffer: SharedArrayBuffer } } }).WebAssembly;

/**
 * A shared buffer whose memory starts on a page boundary, so that a copy can write it with
 * O_DIRECT (blob-file-writer.ts): a WebAssembly memory's, which V8 maps page-aligned, where a
 * plain SharedArrayBuffer comes from malloc (16 bytes past a page: EINVAL for O_DIRECT).
 */
function pageAlignedShared(size: number): SharedArrayBuffer {
  if (size % WASM_PAGE !== 0 || !wasm) return new SharedArrayBuffer(size);
  try {
    const pages = size / WASM_PAGE;
    return new wasm.Memory({ initial: pages, maximum: pages, shared: true }).buffer;
  } catch {
    return new SharedArrayBuffer(size); // direct writes then fall back to buffered ones
  }
}

/** A buffer of `size` bytes, from the pool or new; made known to `w` when given (a buffer hashed here needs no worker). */
function takeSlot(size: number, w: Worker | undefined): Slot {
  const s: Slot = spare.get(size)?.pop() ?? { id: nextSlot++, sab: pageAlignedShared(size), known: undefined };
  slotOf.set(s.sab, s);
  if (w && s.known !== w) {
    s.known = w;
    w.postMessage({ add: s.id, sab: s.sab });
  }
  return s;
}

function putSlot(s: Slot): void {
  const list = spare.get(s.sab.byteLength) ?? [];
  spare.set(s.sab.byteLength, list);
  if (list.length < MAX_SPARE) return void list.push(s);
  s.known?.postMessage({ drop: s.id });
}

/** Send one message to the worker; resolves with its answer. */
function post(w: Worker, msg: object): Promise<ChunkResult> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    jobs.set(id, { resolve, reject });
    w.ref(); // a hash in flight keeps the process alive until it is answered
    w.postMessage({ id, ...msg });
  });
}

let nextStream = 0;

/**
 * A pool of piece-sized buffers and the digests of the chunks submitted from them, in
 * submission order. `acquire` waits while every buffer is out (back-pressure). Pieces fill
 * chunks in order: a chunk is complete after `chunkSize / pieceSize` pieces, or when the
 * blob ends (a `last` piece, or `finish`/`wholeDigest`).
 */
export class ChunkDigester {
  private readonly waiting: ((s: Slot) => void)[] = [];
  private readonly digests: Promise<string>[] = [];
  /** Buffers of the pool out of it (being filled, written or hashed). */
  private out = 0;
  private edge: Uint8Array = new Uint8Array(0);
  private first = true;
  /** Bytes of the current (open) chunk submitted so far. */
  private inChunk = 0;
  /** A gzip member header may start after offset 0 (only with `scanGzip`; see unpacked-size.ts). */
  private header = false;
  /** The worker that holds this blob's hash state (its stream id); undefined: hashed here. */
  private readonly worker: Worker | undefined;
  private readonly stream: number;
  /** Hash state when hashed on this thread: the whole blob's and the open chunk's. */
  private readonly local: Hash | undefined;
  private part: Hash | undefined;

  constructor(
    readonly chunkSize: number = DEFAULT_CHUNK_SIZE,
    private readonly buffers = 6,
    /** Also look for gzip member headers, for the layer's unpacked size without a second read. */
    readonly scanGzip = false,
    /** Also digest the whole blob (read it with `wholeDigest`), so the copy's own thread only reads and writes. */
    readonly whole = false,
    /** Digest each chunk (the chunk index); false: only the whole blob (a push checks nothing else). */
    private readonly chunkDigests = true,
    /** Bytes per buffer: the reads' size; divides `chunkSize` (default: one buffer per chunk). */
    readonly pieceSize: number = chunkSize,
    /**
     * Where to hash: on the worker (beside a thread busy reading sockets), `here`, on the calling
     * thread (no worker needed), or `split`: the chunks on the worker and the whole blob here.
     */
    thread: 'worker' | 'here' | 'split' = 'worker',
  ) {
    if (!(pieceSize > 0 && chunkSize % pieceSize === 0)) throw new Error(`ChunkDigester: piece size ${pieceSize} does not divide chunk size ${chunkSize}`);
    this.stream = nextStream++;
    // the blob's hash state lives on one thread for its whole life: a chunk is never split between two
    // `split` with a worker: the chunks there, the whole blob here (`local`), both cores hashing
    this.worker = thread === 'here' || (thread === 'split' && !chunkDigests) ? undefined : getWorker();
    if ((!this.worker || thread === 'split') && whole) this.local = createHash('sha256');
  }

  /** A piece-sized buffer to read into; give it back with `submit` or `release`. */
  async acquire(): Promise<Buffer> {
    let s: Slot;
    if (this.out < this.buffers) {
      this.out++;
      s = takeSlot(this.pieceSize, this.worker);
    } else s = await new Promise<Slot>((r) => this.waiting.push(r));
    return Buffer.from(s.sab, 0, this.pieceSize);
  }

  /** Return a buffer unused. */
  release(buf: Buffer): void {
    this.giveBack(this.slot(buf));
  }

  private slot(buf: Buffer): Slot {
    const s = slotOf.get(buf.buffer);
    if (!s || buf.byteOffset !== 0) throw new Error('ChunkDigester: a buffer that is not from acquire()');
    return s;
  }

  /**
   * The next bytes of the blob are the first `len` bytes of `buf` (from `acquire`); the caller
   * must not change the buffer afterwards. `last`: the blob ends with them (its last chunk may
   * be short). `written`: the caller's write of the same bytes, still running: the buffer goes
   * back to the pool (to be refilled) only once it is hashed and that write has settled.
   */
  submit(buf: Buffer, len: number, last = false, written?: Promise<unknown>): void {
    const slot = this.slot(buf);
    if (len > this.pieceSize) throw new Error(`ChunkDigester: ${len} bytes submitted from a ${this.pieceSize}-byte buffer`);
    const first = this.first;
    this.first = false;
    const edge = this.edge;
    this.edge = Uint8Array.prototype.slice.call(buf, Math.max(0, len - 3), len); // a copy: `buf` is refilled once hashed
    this.inChunk += len;
    const ends = this.chunkDigests && (this.inChunk >= this.chunkSize || (last && this.inChunk > 0));
    if (ends || last) this.inChunk = 0;
    const job = this.hashPiece(slot, len, ends, first, edge).then(({ hex, header }) => {
      this.header ||= header;
      return hex;
    });
    job.catch(() => undefined); // awaited in finish(); not an unhandled rejection meanwhile
    // back to the pool when both readers of the buffer are done, failed or not (the worker died
    // with it, or the write failed): nobody waits for ever, and no buffer is refilled while read
    void Promise.allSettled([job, written]).then(() => this.giveBack(slot));
    if (ends) this.digests.push(job);
    else this.pending.push(job);
  }

  /** Pieces that end no chunk: awaited too, so that a hashing failure is never missed. */
  private readonly pending: Promise<string>[] = [];

  /** Hash one piece on this digester's thread: into the open chunk (answering its digest when `ends`) and the whole blob. */
  private hashPiece(slot: Slot, len: number, ends: boolean, first: boolean, edge: Uint8Array): Promise<ChunkResult> {
    const w = this.worker;
    if (w) {
      // split: every byte goes into the whole digest here, also once the worker has stopped (the
      // chunks then fail, and with them the blob, as what it is: not as a digest mismatch)
      this.local?.update(Buffer.from(slot.sab, 0, len));
      if (getWorker() !== w || slot.known !== w) return Promise.reject(new Error('the chunk hashing thread stopped'));
      return post(w, { stream: this.stream, slot: slot.id, len, chunk: this.chunkDigests, ends, whole: this.whole && !this.local, scan: this.scanGzip, first, edge });
    }
    const piece = Buffer.from(slot.sab, 0, len);
    const header = this.scanGzip && chunkHasMemberHeader(piece, edge, first, hasMemberHeader);
    this.local?.update(piece);
    let hex = '';
    if (this.chunkDigests) {
      this.part ??= createHash('sha256');
      this.part.update(piece);
      if (ends) {
        hex = this.part.digest('hex');
        this.part = undefined;
      }
    }
    return Promise.resolve({ hex, header });
  }

  /** The blob ended in the middle of a chunk that no `last` piece closed: its digest is the chunk's. */
  private closeChunk(): void {
    if (this.inChunk === 0 || !this.chunkDigests) return;
    this.inChunk = 0;
    if (this.worker) {
      const job = getWorker() === this.worker ? post(this.worker, { close: this.stream }).then((r) => r.hex) : Promise.reject(new Error('the chunk hashing thread stopped'));
      job.catch(() => undefined);
      this.digests.push(job);
      return;
    }
    const hex = (this.part ?? createHash('sha256')).digest('hex');
    this.part = undefined;
    this.digests.push(Promise.resolve(hex));
  }

  /** The chunk digests (hex), in order, once all are hashed. */
  async finish(): Promise<string[]> {
    this.closeChunk();
    await Promise.all(this.pending);
    return Promise.all(this.digests);
  }

  /**
   * The whole blob's sha256 (hex) once every piece is submitted (only with `whole`). The
   * worker answers in order, so this comes after the last piece's update. Call it on failure
   * too (and ignore the result): the worker then drops the blob's hash state.
   */
  async wholeDigest(): Promise<string> {
    if (!this.whole) throw new Error('ChunkDigester: the whole digest was not asked for');
    this.closeChunk(); // before the worker forgets the blob
    // hashed here (or split: the worker held only the open chunk's state, closed just above)
    if (this.local) return this.local.digest('hex');
    const w = this.worker!;
    if (getWorker() !== w) throw new Error('the chunk hashing thread stopped');
    return (await post(w, { end: this.stream })).hex;
  }

  /** After finish(): whether a gzip member header may start after offset 0 (undefined unless `scanGzip`). */
  maybeMultiMember(): boolean | undefined {
    return this.scanGzip ? this.header : undefined;
  }

  private giveBack(s: Slot): void {
    const next = this.waiting.shift();
    if (next) return next(s);
    this.out--;
    putSlot(s);
  }
}
