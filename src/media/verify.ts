/**
 * `ferry verify`: re-read every blob that any image on the media references
 * (index → manifests → config + layers), each blob once, and report EVERY missing or
 * damaged one rather than stopping at the first. The largest blob is hashed on the main
 * thread (1 MiB reads there, overlapped on the thread pool only for a slow device) and the
 * others at the same time on a worker (blob-hash-worker.ts) when they add up to enough.
 */
import { createHash, type Hash } from 'node:crypto';
import { readSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { FerryError, isFerryError } from '../errors.js';
import { OciLayout } from '../oci/layout.js';
import { Annotation, Caps, type Descriptor, MediaType, parseImageIndex, parseImageManifest } from '../oci/types.js';
import type { ProgressFn } from '../progress.js';
import { isHostileMedia, openRegular } from '../util/fsx.js';
import type { BlobHashWorker } from './blob-hash-worker.js';
import { openMediaSource } from './source.js';

/** One missing or damaged blob. */
export interface BlobProblem {
  digest: string;
  kind: 'missing' | 'digest-mismatch' | 'size-mismatch' | 'invalid' | 'unreadable';
  message: string;
  /** Refs of the images that need this blob. */
  refs: string[];
}

/** The outcome of a verify run. */
export interface MediaBlobReport {
  ok: boolean;
  images: Array<{ ref: string; digest: string }>;
  blobsChecked: number;
  bytesChecked: number;
  problems: BlobProblem[];
}

/**
 * 1 MiB reads: each chunk is hashed while it is still in this core's cache, and the buffers
 * stay small because every fresh page costs a fault (~25 µs each on the bench VM: a new 4 MiB
 * buffer took 25 ms to fill, against 0.3 ms once faulted in).
 */
const CHUNK = 1024 * 1024;
/** A read slower than a quarter of the hashing of its bytes is a real device, not the page cache... */
const SLOW_READ_SHARE = 4;
/** ...and after this many such reads the rest of the blob is read ahead on the thread pool. */
const SLOW_READS = 4;
/** Between chunks read on this thread, the event loop runs every 8 MiB (Ctrl-C, progress, the worker's messages). */
const YIELD_BYTES = 8 * 1024 * 1024;

/** The read buffers of one run, reused from blob to blob (allocated on first use). */
export class ReadBuffers {
  private readonly bufs: Buffer[] = [];

  /** Buffer `i` (0 or 1). */
  get(i: number): Buffer {
    return (this.bufs[i] ??= Buffer.allocUnsafeSlow(CHUNK));
  }
}

type Span = { pos: number; end: number };

/**
 * Read and hash on this thread, as `openssl dgst` does, while the reads are page-cache copies;
 * returns false when reads turn out to wait for a device (then the caller overlaps them).
 * Measured on the 378 MB rootfs layer in the page cache (10 rounds, real-time priority so the
 * load of the shared machine stays out): 296 ms here against 338 ms (379 ms CPU) with the next
 * read in flight on the thread pool: a chunk copied in by another core hashes slower.
 */
async function hashInline(fd: number, hash: Hash, at: Span, buf: Buffer, onBytes?: (n: number) => void): Promise<boolean> {
  let slow = 0;
  let sinceYield = 0;
  for (;;) {
    const want = Math.min(buf.length, at.end - at.pos);
    if (want <= 0) return true;
    const t0 = process.hrtime.bigint();
    const n = readSync(fd, buf, 0, want, at.pos);
    if (n === 0) return true;
    const t1 = process.hrtime.bigint();
    hash.update(buf.subarray(0, n));
    at.pos += n;
    onBytes?.(n);
    if ((t1 - t0) * BigInt(SLOW_READ_SHARE) > process.hrtime.bigint() - t1 && ++slow >= SLOW_READS) return false;
    if ((sinceYield += n) >= YIELD_BYTES) {
      sinceYield = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
}

/** Read ahead on the thread pool (the next chunk in flight while this one is hashed): for a slow device. */
async function hashOverlapped(fh: FileHandle, hash: Hash, at: Span, bufs: ReadBuffers, onBytes?: (n: number) => void): Promise<void> {
  const want = (pos: number) => Math.min(CHUNK, at.end - pos);
  let i = 0;
  let pending = want(at.pos) > 0 ? fh.read(bufs.get(0), 0, want(at.pos), at.pos) : undefined;
  while (pending) {
    const { bytesRead } = await pending;
    if (bytesRead === 0) break;
    const cur = bufs.get(i);
    i ^= 1;
    at.pos += bytesRead;
    pending = want(at.pos) > 0 ? fh.read(bufs.get(i), 0, want(at.pos), at.pos) : undefined;
    hash.update(cur.subarray(0, bytesRead));
    onBytes?.(bytesRead);
  }
}

/** sha256 of a file, or of `range` (a blob inside an archive read in place). */
export async function hashFile(file: string, onBytes?: (n: number) => void, range?: { start: number; size: number; under?: string }, bufs = new ReadBuffers()): Promise<{ digest: string; size: number }> {
  const { fh } = await openRegular(file, 'blob', { media: true, ...(range?.under !== undefined ? { under: range.under } : {}) });
  try {
    const hash = createHash('sha256');
    const start = range?.start ?? 0;
    const at: Span = { pos: start, end: range ? range.start + range.size : Infinity };
    if (!(await hashInline(fh.fd, hash, at, bufs.get(0), onBytes))) await hashOverlapped(fh, hash, at, bufs, onBytes);
    return { digest: `sha256:${hash.digest('hex')}`, size: at.pos - start };
  } finally {
    await fh.close();
  }
}

type Wanted = Map<string, { desc: Descriptor; refs: Set<string> }>;

/** Blobs other than the largest must add up to this before a second core is worth a worker's start. */
const PARALLEL_MIN_BYTES = 32 * 1024 * 1024;

type Hasher = (file: string, onBytes: (n: number) => void, range: { start: number; size: number; under?: string }) => Promise<{ digest: string; size: number }>;

/** A hashing worker when a second core is there; node:worker_threads is loaded only then (~8 ms of start-up otherwise). */
async function startWorker(): Promise<BlobHashWorker | undefined> {
  if ((await import('node:os')).availableParallelism() < 2) return undefined;
  try {
    return new (await import('./blob-hash-worker.js')).BlobHashWorker();
  } catch {
    return undefined; // no worker here: every blob is hashed on the main thread
  }
}

/** hashFile on the worker: the file is opened (and checked) here, the worker reads the descriptor. */
function workerHasher(worker: BlobHashWorker): Hasher {
  return async (file, onBytes, range) => {
    const { fh } = await openRegular(file, 'blob', { media: true, ...(range.under !== undefined ? { under: range.under } : {}) });
    try {
      return await worker.hash(fh.fd, range.start, range.size, onBytes);
    } finally {
      await fh.close();
    }
  };
}

/** Check one blob; returns its problem, if any. */
async function checkBlob(layout: OciLayout, desc: Descriptor, refs: string[], hash: Hasher, tick: (n: number, detail: string) => void): Promise<BlobProblem | undefined> {
  // where the bytes sit: the blob file, or its byte range inside an archive
  const where = await layout.blobRange(desc.digest);
  if (where === undefined) {
    tick(desc.size, desc.digest);
    return { digest: desc.digest, kind: 'missing', message: `blob ${desc.digest} is missing`, refs };
  }
  if (where.size !== desc.size) {
    tick(desc.size, desc.digest);
    return { digest: desc.digest, kind: 'size-mismatch', message: `blob ${desc.digest} is ${where.size} bytes, expected ${desc.size}`, refs };
  }
  let hashed = 0;
  try {
    const h = await hash(where.file, (n) => ((hashed += n), tick(n, desc.digest)), where);
    if (h.digest !== desc.digest) return { digest: desc.digest, kind: 'digest-mismatch', message: `blob ${desc.digest} has content hashing to ${h.digest}`, refs };
    return undefined;
  } catch (e) {
    const p = problemOf(e, desc.digest, refs);
    // a blob that failed half-way still counts in full: the last event reaches the total
    tick(Math.max(0, desc.size - hashed), desc.digest);
    return p;
  }
}

function want(map: Wanted, desc: Descriptor, ref: string): void {
  const w = map.get(desc.digest);
  if (w) w.refs.add(ref);
  else map.set(desc.digest, { desc, refs: new Set([ref]) });
}

function problemOf(e: unknown, digest: string, refs: string[]): BlobProblem {
  // a hostile stick is refused as a whole, not listed as one damaged blob among others
  if (isHostileMedia(e)) throw e;
  const code = isFerryError(e) ? e.code : undefined;
  const kind = code === 'BLOB_MISSING' ? 'missing' : code === 'DIGEST_MISMATCH' ? 'digest-mismatch' : code === 'SIZE_MISMATCH' ? 'size-mismatch' : code === undefined || code === 'IO_ERROR' ? 'unreadable' : 'invalid';
  return { digest, kind, message: e instanceof Error ? e.message : String(e), refs };
}

/** Collect every blob each image needs; manifests (and nested indexes) are read and checked here. */
async function collectBlobs(layout: OciLayout, problems: BlobProblem[]): Promise<{ wanted: Wanted; images: MediaBlobReport['images']; checked: number; bytes: number }> {
  const index = await layout.readIndex();
  const wanted: Wanted = new Map();
  const images: MediaBlobReport['images'] = [];
  let checked = 0;
  let bytes = 0;
  // manifest digest → the blobs it needs (so a manifest shared by two refs is read once)
  const seen = new Map<string, Descriptor[]>();
  const visit = async (desc: Descriptor, ref: string): Promise<void> => {
    const known = seen.get(desc.digest);
    if (known) {
      for (const d of known) want(wanted, d, ref);
      return;
    }
    seen.set(desc.digest, []);
    try {
      if (desc.mediaType === MediaType.imageIndex || desc.mediaType === MediaType.dockerManifestList) {
        const child = parseImageIndex(await layout.readJsonBlob(desc, Caps.indexJson, `index ${desc.digest}`));
        checked++, (bytes += desc.size);
        for (const d of child.manifests) await visit(d, ref);
        return;
      }
      const m = parseImageManifest(await layout.readJsonBlob(desc, Caps.manifestJson, `manifest ${desc.digest}`));
      checked++, (bytes += desc.size);
      seen.set(desc.digest, [m.config, ...m.layers]);
      for (const d of [m.config, ...m.layers]) want(wanted, d, ref);
    } catch (e) {
      problems.push(problemOf(e, desc.digest, [ref]));
    }
  };
  for (const d of index.manifests) {
    const ref = d.annotations?.[Annotation.refName] ?? d.digest;
    images.push({ ref, digest: d.digest });
    await visit(d, ref);
  }
  return { wanted, images, checked, bytes };
}

/**
 * Verify every referenced blob of the media at `mediaRoot` (a folder holding FERRY/, or an
 * archive written by ferry archive: its blobs are hashed as byte ranges of the tar, in place).
 * Never throws for damaged blobs: they are listed.
 */
export async function verifyMediaBlobs(mediaRoot: string, opts: { progress?: ProgressFn; parallelMinBytes?: number } = {}): Promise<MediaBlobReport> {
  const layout = await (await openMediaSource(mediaRoot)).openLayout();
  const problems: BlobProblem[] = [];
  const { wanted, images, checked, bytes } = await collectBlobs(layout, problems);
  const total = [...wanted.values()].reduce((n, w) => n + w.desc.size, 0);
  let done = 0;
  let lastReport = 0;
  const progress = opts.progress;
  const tick = (n: number, detail: string) => {
    done += n;
    // every 4 MiB like export's, so a bar, a rate and an ETA move on a small stick too
    if (progress && (done - lastReport >= 4 * 1024 * 1024 || done === total)) {
      lastReport = done;
      progress({ step: 'verify', bytesDone: done, bytesTotal: total, detail });
    }
  };
  // The largest blob is hashed here, the others beside it on a worker thread (two cores, two
  // SHA-256 streams); problems are listed in the media's order whatever finishes first.
  const order = [...wanted.values()].sort((x, y) => y.desc.size - x.desc.size);
  const beside = order.slice(1).reduce((n, w) => n + w.desc.size, 0);
  const worker = beside >= (opts.parallelMinBytes ?? PARALLEL_MIN_BYTES) ? await startWorker() : undefined;
  const found = new Map<string, BlobProblem>();
  let next = 0;
  const lane = async (hash: Hasher): Promise<void> => {
    while (next < order.length) {
      const w = order[next++]!;
      const p = await checkBlob(layout, w.desc, [...w.refs], hash, tick);
      if (p) found.set(w.desc.digest, p);
    }
  };
  try {
    const bufs = new ReadBuffers();
    await Promise.all([lane((file, onBytes, range) => hashFile(file, onBytes, range, bufs)), ...(worker ? [lane(workerHasher(worker))] : [])]);
  } finally {
    await worker?.close();
  }
  for (const digest of wanted.keys()) if (found.has(digest)) problems.push(found.get(digest)!);
  const blobsChecked = checked + wanted.size;
  return { ok: problems.length === 0, images, blobsChecked, bytesChecked: bytes + total, problems };
}

/** The error a failed report maps to: DIGEST_MISMATCH (exit 3) when content was altered, else MEDIA_DAMAGED (exit 5). */
export function reportError(report: MediaBlobReport): FerryError | undefined {
  if (report.ok) return undefined;
  const altered = report.problems.some((p) => p.kind === 'digest-mismatch' || p.kind === 'size-mismatch');
  const list = report.problems.map((p) => `${p.digest} (${p.kind})`).join(', ');
  return new FerryError(altered ? 'DIGEST_MISMATCH' : report.problems.every((p) => p.kind === 'missing') ? 'BLOB_MISSING' : 'MEDIA_DAMAGED', `${report.problems.length} blob(s) missing or damaged: ${list}; re-export the affected images at headquarters`, {
    details: { problems: report.problems },
  });
}
