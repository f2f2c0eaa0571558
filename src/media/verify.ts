/**
 * `ferry verify`: re-read every blob that any image on the media references
 * (index → manifests → config + layers), each blob once, and report EVERY missing or
 * damaged one rather than stopping at the first. The largest blob is hashed on the main
 * thread (blob-hash.ts: 1 MiB reads there, read ahead on the thread pool only for a slow
 * device or a busy machine) and the others at the same time on a worker (blob-hash-worker.ts)
 * when they add up to enough.
 */
import { closeSync } from 'node:fs';
import { FerryError, isFerryError } from '../errors.js';
import { OciLayout } from '../oci/layout.js';
import { Annotation, Caps, type Descriptor, MediaType, parseImageIndex, parseImageManifest } from '../oci/types.js';
import type { ProgressFn } from '../progress.js';
import { isHostileMedia } from '../util/fsx.js';
import { openRegularSync } from '../util/fsx-sync.js';
import { hashFile, ReadBuffers } from './blob-hash.js';
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

type Wanted = Map<string, { desc: Descriptor; refs: Set<string> }>;

/** Blobs other than the largest must add up to this before a second core is worth a worker's start. */
const PARALLEL_MIN_BYTES = 32 * 1024 * 1024;

type Hasher = (file: string, onBytes: (n: number) => void, range: { start: number; size: number; under?: string }) => Promise<{ digest: string; size: number }>;

/** A hashing worker (on a machine with a second core); node:worker_threads is loaded only then (~8 ms of start-up otherwise). */
async function startWorker(): Promise<BlobHashWorker | undefined> {
  try {
    return new (await import('./blob-hash-worker.js')).BlobHashWorker();
  } catch {
    return undefined; // no worker here: every blob is hashed on the main thread
  }
}

/** hashFile on the worker: the file is opened (and checked) here, the worker reads the descriptor. */
function workerHasher(worker: BlobHashWorker): Hasher {
  return async (file, onBytes, range) => {
    const { fd } = openRegularSync(file, 'blob', { media: true, ...(range.under !== undefined ? { under: range.under } : {}) });
    try {
      return await worker.hash(fd, range.start, range.size, onBytes);
    } finally {
      closeSync(fd);
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
  // a folder's checks and small reads run synchronously (fsx-sync.ts): nothing runs beside them here
  const layout = await (await openMediaSource(mediaRoot, { sync: true })).openLayout();
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
  const cores = (await import('node:os')).availableParallelism();
  const worker = cores >= 2 && beside >= (opts.parallelMinBytes ?? PARALLEL_MIN_BYTES) ? await startWorker() : undefined;
  const found = new Map<string, BlobProblem>();
  let next = 0;
  let lanes = 0;
  const lane = async (hash: Hasher): Promise<void> => {
    lanes++;
    try {
      while (next < order.length) {
        const w = order[next++]!;
        const p = await checkBlob(layout, w.desc, [...w.refs], hash, tick);
        if (p) found.set(w.desc.digest, p);
      }
    } finally {
      lanes--;
    }
  };
  // while this thread hashes alone, a second core is free to read ahead for it (the same 1 MiB
  // reads, on the thread pool); blob-hash.ts hands the reads over only where the copies are dear
  const overlap = () => cores >= 2 && lanes <= 1;
  try {
    const bufs = new ReadBuffers();
    await Promise.all([lane((file, onBytes, range) => hashFile(file, onBytes, range, { bufs, overlap })), ...(worker ? [lane(workerHasher(worker))] : [])]);
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
