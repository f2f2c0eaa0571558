/**
 * Chunk digests, and the whole-blob digest, computed on a worker thread beside the copy:
 * export pays for the chunk index with a second core instead of a second pass, and the main
 * thread only reads and writes (bench: export with the chunk index vs skopeo copy).
 *
 * The copy reads each chunk straight into a buffer of this digester's pool; once written,
 * the buffer is moved (transferred, not copied) to the worker, which moves it back with the
 * chunk's digest. No byte is copied and no memory is allocated per chunk; memory is the pool
 * (6 x 4 MiB). The worker is one per process, started on first use from inline source (so it
 * also runs from the single executable, which has no files beside it), and does not keep the
 * process alive when idle. Where no worker can start, chunks are hashed on the main thread.
 */
import { createHash, type Hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { DEFAULT_CHUNK_SIZE } from './chunk-index.js';
import { chunkHasMemberHeader, hasMemberHeader } from './unpacked-size.js';

/**
 * The worker: the chunk's digest and, when asked (gzip layers), whether a gzip member header
 * may start in it (unpacked-size.ts: the trailer's size is trusted only when none can), with
 * the three bytes before the chunk (`edge`) for a header that straddles two chunks.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hasMemberHeader = ${hasMemberHeader.toString()};
const chunkHasMemberHeader = ${chunkHasMemberHeader.toString()};
const wholes = new Map();
parentPort.on('message', (m) => {
  if (m.end !== undefined) {
    const h = wholes.get(m.end) || createHash('sha256');
    wholes.delete(m.end);
    parentPort.postMessage({ id: m.id, hex: h.digest('hex'), header: false });
    return;
  }
  const chunk = Buffer.from(m.buf, 0, m.len);
  const hex = m.wholeOnly ? '' : createHash('sha256').update(chunk).digest('hex');
  if (m.stream !== undefined) {
    let h = wholes.get(m.stream);
    if (!h) wholes.set(m.stream, (h = createHash('sha256')));
    h.update(chunk);
  }
  const header = m.scan && chunkHasMemberHeader(chunk, m.edge, m.first, hasMemberHeader);
  parentPort.postMessage({ id: m.id, hex, header, buf: m.buf }, [m.buf]);
});
`;

interface ChunkResult {
  hex: string;
  header: boolean;
  buf?: ArrayBuffer;
}

interface Job {
  resolve: (r: ChunkResult) => void;
  reject: (e: Error) => void;
}

let worker: Worker | undefined;
let broken = false;
let nextId = 0;
const jobs = new Map<number, Job>();

function failAll(e: Error): void {
  broken = true;
  worker = undefined;
  for (const j of jobs.values()) j.reject(e);
  jobs.clear();
}

function getWorker(): Worker | undefined {
  if (worker || broken) return worker;
  try {
    const w = new Worker(WORKER_SOURCE, { eval: true });
    w.on('message', (m: ChunkResult & { id: number }) => {
      const j = jobs.get(m.id);
      jobs.delete(m.id);
      if (jobs.size === 0) w.unref();
      j?.resolve(m);
    });
    w.on('error', (e) => failAll(e));
    w.on('exit', (code) => failAll(new Error(`the chunk hashing thread exited with code ${code}`)));
    w.unref();
    worker = w;
  } catch {
    broken = true;
  }
  return worker;
}

/** Start the hashing thread now (it takes tens of ms), so it is up when the first chunk is read. */
export function warmChunkHasher(): void {
  getWorker();
}

interface ChunkJob {
  /** The blob whose whole digest this chunk continues (worker side), if any. */
  stream?: number;
  /** Only the whole digest: no digest of the chunk itself. */
  wholeOnly?: boolean;
  buf: ArrayBuffer;
  len: number;
  /** Scan for gzip member headers; `first`: the blob's first chunk (its own header at 0 does not count). */
  scan: boolean;
  first: boolean;
  /** The last (up to) three bytes of the previous chunk. */
  edge: Uint8Array;
}

/** Digest (and scan) the first `len` bytes of `buf`; `buf` travels to the worker and comes back in the result. */
function hashChunk(job: ChunkJob): Promise<ChunkResult> {
  const w = getWorker();
  if (!w) {
    const chunk = Buffer.from(job.buf, 0, job.len);
    const header = job.scan && chunkHasMemberHeader(chunk, job.edge, job.first, hasMemberHeader);
    return Promise.resolve({ hex: job.wholeOnly ? '' : createHash('sha256').update(chunk).digest('hex'), header, buf: job.buf });
  }
  return post(w, job, [job.buf]);
}

/** Send one message to the worker; resolves with its answer. */
function post(w: Worker, msg: object, transfer: ArrayBuffer[]): Promise<ChunkResult> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    jobs.set(id, { resolve, reject });
    w.ref(); // a hash in flight keeps the process alive until it is answered
    w.postMessage({ id, ...msg }, transfer);
  });
}

let nextStream = 0;

/**
 * Buffers of finished digesters, by size, for the next digester in this process. A fresh
 * 4 MiB buffer costs 1,024 page faults when it is first filled, about as much CPU as hashing
 * it on the bench VM (shadow paging: ~25 µs a fault), and every blob took six new ones: an
 * incremental export faulted 48 MiB of buffers for 114 MiB of layers. At most SPARES are kept.
 */
const spares = new Map<number, ArrayBuffer[]>();
const SPARES = 8;

function takeBuffer(size: number): ArrayBuffer {
  return spares.get(size)?.pop() ?? new ArrayBuffer(size);
}

/** How many finished digesters' buffers of `size` bytes wait for the next digester (for tests). */
export function spareBuffers(size: number): number {
  return spares.get(size)?.length ?? 0;
}

function keepBuffers(size: number, bufs: ArrayBuffer[]): void {
  const list = spares.get(size) ?? [];
  spares.set(size, list);
  for (const b of bufs) if (list.length < SPARES && b.byteLength === size) list.push(b);
}

/**
 * A pool of chunk-sized buffers and the digests of the chunks submitted from them, in
 * submission order. `acquire` waits while every buffer is out (back-pressure).
 */
export class ChunkDigester {
  private readonly free: ArrayBuffer[] = [];
  private readonly waiting: ((b: ArrayBuffer) => void)[] = [];
  private readonly digests: Promise<string>[] = [];
  private created = 0;
  private edge: Uint8Array = new Uint8Array(0);
  /** A gzip member header may start after offset 0 (only with `scanGzip`; see unpacked-size.ts). */
  private header = false;
  /** The whole blob's digest: on the worker (its stream id), or here where no worker runs. */
  private readonly stream: number | undefined;
  private readonly local: Hash | undefined;

  constructor(
    readonly chunkSize: number = DEFAULT_CHUNK_SIZE,
    private readonly buffers = 6,
    /** Also look for gzip member headers, for the layer's unpacked size without a second read. */
    readonly scanGzip = false,
    /** Also digest the whole blob (read it with `wholeDigest`), so the copy's own thread only reads and writes. */
    readonly whole = false,
    /** Digest each chunk (the chunk index); false: only the whole blob (a push checks nothing else). */
    private readonly chunkDigests = true,
  ) {
    if (whole && getWorker()) this.stream = nextStream++;
    else if (whole) this.local = createHash('sha256');
  }

  /** A chunk-sized buffer to read into; give it back with `submit` or `release`. */
  async acquire(): Promise<Buffer> {
    const ab = this.free.pop() ?? (this.created < this.buffers ? (this.created++, takeBuffer(this.chunkSize)) : await new Promise<ArrayBuffer>((r) => this.waiting.push(r)));
    return Buffer.from(ab, 0, this.chunkSize);
  }

  /** Return a buffer unused. */
  release(buf: Buffer): void {
    this.giveBack(buf.buffer as ArrayBuffer);
  }

  /** The next chunk is the first `len` bytes of `buf` (from `acquire`); the buffer must not be used afterwards. */
  submit(buf: Buffer, len: number): void {
    const first = this.digests.length === 0;
    const edge = this.edge;
    this.edge = Uint8Array.prototype.slice.call(buf, Math.max(0, len - 3), len); // a copy: `buf` is about to move
    this.local?.update(buf.subarray(0, len));
    const stream = this.stream !== undefined ? { stream: this.stream } : {};
    const job = hashChunk({ ...stream, ...(this.chunkDigests ? {} : { wholeOnly: true }), buf: buf.buffer as ArrayBuffer, len, scan: this.scanGzip, first, edge }).then(
      ({ hex, header, buf: back }) => {
        this.header ||= header;
        if (back) this.giveBack(back);
        return hex;
      },
      (e: Error) => {
        this.giveBack(new ArrayBuffer(this.chunkSize)); // the worker died with it: nobody waits for ever
        throw e;
      },
    );
    job.catch(() => undefined); // awaited in finish(); not an unhandled rejection meanwhile
    this.digests.push(job);
  }

  /** The chunk digests (hex), in order, once all are hashed; the buffers then serve the next digester. */
  async finish(): Promise<string[]> {
    const hex = await Promise.all(this.digests);
    this.retire();
    return hex;
  }

  /** Hand the buffers on, but only when every one is back here: none is still out with a reader or the worker. */
  private retire(): void {
    if (this.free.length !== this.created || this.waiting.length > 0) return;
    keepBuffers(this.chunkSize, this.free.splice(0));
    this.created = 0;
  }

  /**
   * The whole blob's sha256 (hex) once every chunk is submitted (only with `whole`). The
   * worker answers in order, so this comes after the last chunk's update. Call it on failure
   * too (and ignore the result): the worker then drops the blob's hash state.
   */
  async wholeDigest(): Promise<string> {
    if (this.local) return this.local.digest('hex');
    const w = getWorker();
    if (this.stream === undefined) throw new Error('ChunkDigester: the whole digest was not asked for');
    if (!w) throw new Error('the chunk hashing thread stopped');
    return (await post(w, { end: this.stream }, [])).hex;
  }

  /** After finish(): whether a gzip member header may start after offset 0 (undefined unless `scanGzip`). */
  maybeMultiMember(): boolean | undefined {
    return this.scanGzip ? this.header : undefined;
  }

  private giveBack(ab: ArrayBuffer): void {
    const next = this.waiting.shift();
    if (next) next(ab);
    else this.free.push(ab);
  }
}
