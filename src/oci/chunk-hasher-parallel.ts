/**
 * Chunk digests, and the whole-blob digest, computed on a worker thread beside the copy:
 * export pays for the chunk index with a second core instead of a second pass, and the main
 * thread only reads and writes (bench: export with the chunk index vs skopeo copy).
 *
 * The copy reads each chunk straight into a buffer of this digester's pool; once written,
 * the worker hashes it in place and answers with the chunk's digest. The buffers are
 * SharedArrayBuffers that the worker was given once, when each was made: a message names a
 * buffer by its slot. Moving (transferring) an ArrayBuffer instead made a new 4 MiB external
 * object in each thread per chunk, and V8 answered that churn with a full GC every ~50 MiB
 * (15-19 per 1 GiB export from a registry, whose main thread otherwise allocates little).
 * No byte is copied and no memory is allocated per chunk; memory is the pool (6 x 4 MiB per
 * digester, idle buffers kept for the next). The worker is one per process, started on first
 * use from inline source (so it also runs from the single executable, which has no files
 * beside it), and does not keep the process alive when idle. Where no worker can start,
 * chunks are hashed on the main thread.
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
const slots = new Map();
parentPort.on('message', (m) => {
  if (m.add !== undefined) return void slots.set(m.add, Buffer.from(m.sab));
  if (m.drop !== undefined) return void slots.delete(m.drop);
  if (m.end !== undefined) {
    const h = wholes.get(m.end) || createHash('sha256');
    wholes.delete(m.end);
    parentPort.postMessage({ id: m.id, hex: h.digest('hex'), header: false });
    return;
  }
  const chunk = slots.get(m.slot).subarray(0, m.len);
  const hex = m.wholeOnly ? '' : createHash('sha256').update(chunk).digest('hex');
  if (m.stream !== undefined) {
    let h = wholes.get(m.stream);
    if (!h) wholes.set(m.stream, (h = createHash('sha256')));
    h.update(chunk);
  }
  const header = m.scan && chunkHasMemberHeader(chunk, m.edge, m.first, hasMemberHeader);
  parentPort.postMessage({ id: m.id, hex, header });
});
`;

interface ChunkResult {
  hex: string;
  header: boolean;
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

/** A pool buffer: the worker knows it by `id` (given to it once, when the buffer was made). */
interface Slot {
  id: number;
  sab: SharedArrayBuffer;
  /** The worker that was given it; another (after a worker died) does not know it. */
  known: Worker | undefined;
}

/** Idle buffers kept for the next digester, per chunk size (one blob's worth; the rest are dropped). */
const MAX_SPARE = 6;
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

function takeSlot(size: number): Slot {
  const kept = spare.get(size)?.pop();
  if (kept) return kept;
  const w = getWorker();
  const s: Slot = { id: nextSlot++, sab: pageAlignedShared(size), known: w };
  slotOf.set(s.sab, s);
  w?.postMessage({ add: s.id, sab: s.sab });
  return s;
}

function putSlot(s: Slot): void {
  const list = spare.get(s.sab.byteLength) ?? [];
  spare.set(s.sab.byteLength, list);
  if (list.length < MAX_SPARE) return void list.push(s);
  s.known?.postMessage({ drop: s.id });
}

interface ChunkJob {
  /** The blob whose whole digest this chunk continues (worker side), if any. */
  stream?: number;
  /** Only the whole digest: no digest of the chunk itself. */
  wholeOnly?: boolean;
  slot: Slot;
  len: number;
  /** Scan for gzip member headers; `first`: the blob's first chunk (its own header at 0 does not count). */
  scan: boolean;
  first: boolean;
  /** The last (up to) three bytes of the previous chunk. */
  edge: Uint8Array;
}

/** Digest (and scan) the first `len` bytes of the job's buffer, on the worker when it knows the buffer. */
function hashChunk(job: ChunkJob): Promise<ChunkResult> {
  const w = getWorker();
  const { slot, ...rest } = job;
  if (!w || slot.known !== w) {
    const chunk = Buffer.from(slot.sab, 0, job.len);
    const header = job.scan && chunkHasMemberHeader(chunk, job.edge, job.first, hasMemberHeader);
    return Promise.resolve({ hex: job.wholeOnly ? '' : createHash('sha256').update(chunk).digest('hex'), header });
  }
  return post(w, { ...rest, slot: slot.id });
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
 * A pool of chunk-sized buffers and the digests of the chunks submitted from them, in
 * submission order. `acquire` waits while every buffer is out (back-pressure).
 */
export class ChunkDigester {
  private readonly waiting: ((s: Slot) => void)[] = [];
  private readonly digests: Promise<string>[] = [];
  /** Buffers of the pool out of it (being filled, written or hashed). */
  private out = 0;
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
    let s: Slot;
    if (this.out < this.buffers) {
      this.out++;
      s = takeSlot(this.chunkSize);
    } else s = await new Promise<Slot>((r) => this.waiting.push(r));
    return Buffer.from(s.sab, 0, this.chunkSize);
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

  /** The next chunk is the first `len` bytes of `buf` (from `acquire`); the buffer must not be used afterwards. */
  submit(buf: Buffer, len: number): void {
    const first = this.digests.length === 0;
    const edge = this.edge;
    this.edge = Uint8Array.prototype.slice.call(buf, Math.max(0, len - 3), len); // a copy: `buf` is refilled once hashed
    this.local?.update(buf.subarray(0, len));
    const stream = this.stream !== undefined ? { stream: this.stream } : {};
    const slot = this.slot(buf);
    const job = hashChunk({ ...stream, ...(this.chunkDigests ? {} : { wholeOnly: true }), slot, len, scan: this.scanGzip, first, edge }).then(
      ({ hex, header }) => {
        this.header ||= header;
        this.giveBack(slot);
        return hex;
      },
      (e: Error) => {
        this.giveBack(slot); // the worker died with it: nobody waits for ever
        throw e;
      },
    );
    job.catch(() => undefined); // awaited in finish(); not an unhandled rejection meanwhile
    this.digests.push(job);
  }

  /** The chunk digests (hex), in order, once all are hashed. */
  finish(): Promise<string[]> {
    return Promise.all(this.digests);
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
