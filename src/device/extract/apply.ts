/**
 * Applying a verified image to a directory in one pass over the stick: for each
 * layer, in order, the blob is read once and flows
 *   stick -> chunk check (req.openBlob) -> decompress -> budget -> diff_id hash -> sanitiser -> GNU tar
 * with backpressure all the way (no layer, entry or image is ever held in memory). With
 * req.openLayer (a stick with a chunk index) everything up to the diff_id hash runs on a
 * worker thread (layer-feed.ts), with the same checks in the same order.
 * The budget stops a decompression bomb at the signed size and the write at the
 * slot's free-space reserve.
 * A failed digest, diff_id, path check or tar run throws; the caller has marked the
 * slot bad before writing, so nothing half-written is ever activated.
 */
import * as fsp from 'node:fs/promises';
import { type Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FerryError, isFerryError, toFerryError } from '../../errors.js';
import { decompressor } from '../../oci/compress.js';
import { DigestComputer } from '../../oci/digest.js';
import type { OciLayout } from '../../oci/layout.js';
import { type Descriptor, layerCompression } from '../../oci/types.js';
import type { LayerOpener, ReuseWrite, SlotWriteRequest, SlotWriteResult } from '../types.js';
import type { LayerFeed } from './layer-feed.js';
import { comparePaths, entryLine, type FileIndex } from '../files/file-index.js';
import type { IndexSource } from '../files/index-reader.js';
import { FileIndexBuilder } from '../files/index-builder.js';
import { ensureGnuTar, TarExtractor } from './gnu-tar.js';
import { LayerGate } from './layer-gate.js';
import { TarSanitizer } from './tar-sanitizer.js';
import { UnpackBudget } from './unpack-budget.js';
import { removeGone, ReuseGate, settleSkipped } from './reuse-gate.js';

const PROGRESS_EVERY = 4 * 1024 * 1024;

/** Counts compressed bytes as they leave the stick and reports progress. */
class ByteCounter extends Transform {
  constructor(private readonly onBytes: (n: number) => void) {
    super({ highWaterMark: 1024 * 1024 });
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.onBytes(chunk.length);
    cb(null, chunk);
  }
}

/** CANCELLED, said the same way everywhere. */
export function cancelled(what: string): FerryError {
  return new FerryError('CANCELLED', `${what}: cancelled; the slot is left marked bad and can be written again`);
}

/** True when nothing but an empty lost+found (left by mkfs) is in `root`. */
async function isEmptyRoot(root: string): Promise<boolean> {
  for (const name of await fsp.readdir(root)) {
    if (name !== 'lost+found') return false;
    const inside = await fsp.readdir(`${root}/lost+found`).catch(() => undefined);
    if (inside === undefined || inside.length > 0) return false;
  }
  return true;
}

/**
 * Extract the image's layers into `root` (an existing directory, normally empty),
 * verifying every blob digest and diff_id on the way. Emits `write` progress in
 * compressed bytes read from the stick (total = config + layers).
 */
export async function applyImageToDir(req: SlotWriteRequest & { root: string }): Promise<SlotWriteResult> {
  const { image, root } = req;
  const st = await fsp.lstat(root).catch(() => undefined);
  if (!st?.isDirectory()) throw new FerryError('SLOT_WRITE_FAILED', `${root} is not a directory; create it or fix the slot's path`);
  await ensureGnuTar();
  const layers = image.manifest.layers;
  const budget = new UnpackBudget(root, req.limits?.unpackedBytes, req.limits?.reserveBytes ?? 0);
  await budget.checkSpace(`writing ${root}`);
  const w: LayerWriter = {
    req, budget,
    open: req.openBlob ? (d, wh) => req.openBlob!(d, wh) : (d, wh) => req.layout.openBlob(d, wh),
    done: image.configDescriptor.size,
    total: image.configDescriptor.size + layers.reduce((s, l) => s + l.size, 0),
    lastReported: 0,
  };
  report(w, true);
  if (req.reuse) await removeGone(root, req.reuse);
  const skip = req.reuse?.skipLayers ?? 0;
  if (req.reuse && skip > 0) {
    // Layers shared with the slot's image are not read: only those above them.
    w.done += layers.slice(0, skip).reduce((s, l) => s + l.size, 0);
    const passed = new Set<string>();
    const upper = await writeLayers(w, skip, passed);
    const missing = await settleSkipped(root, req.reuse, passed);
    if (missing.length === 0) {
      if (upper.index) await checkAgainstSigned(upper.index, req.reuse.index);
      return result(w, upper, req.reuse.index, true);
    }
    // Something of the final tree lives in a shared layer (the slot's old upper layers hid
    // or changed it): read every layer, in order, as a single-pass incremental write would.
    w.total += layers.reduce((s, l) => s + l.size, 0);
    w.budget = new UnpackBudget(root, req.limits?.unpackedBytes, req.limits?.reserveBytes ?? 0);
    const again = await writeLayers(w, 0);
    return result(w, { bytes: upper.bytes + again.bytes, passed: upper.passed + again.passed }, again.index, true);
  }
  const all = await writeLayers(w, 0);
  return result(w, all, all.index, req.reuse !== undefined);
}

/** One slot write in progress: where blobs come from, what bounds it, and its progress. */
interface LayerWriter {
  req: SlotWriteRequest & { root: string };
  open: Opener;
  budget: UnpackBudget;
  done: number;
  total: number;
  lastReported: number;
}

function report(w: LayerWriter, force: boolean): void {
  if (force || w.done - w.lastReported >= PROGRESS_EVERY) {
    w.lastReported = w.done;
    w.req.progress({ step: 'write', bytesDone: Math.min(w.done, w.total), bytesTotal: w.total });
  }
}

/** Write layers `from`.. in order; the file index is recorded from the same stream that tar extracts (no second read). */
async function writeLayers(w: LayerWriter, from: number, passedPaths?: Set<string>): Promise<{ bytes: number; passed: number; index: FileIndex | undefined }> {
  const { req } = w;
  const layers = req.image.manifest.layers;
  const index = new FileIndexBuilder(req.image.manifestDescriptor.digest);
  let lowerEmpty = await isEmptyRoot(req.root);
  let bytes = 0;
  let passed = 0;
  for (let i = from; i < layers.length; i++) {
    const desc = layers[i]!;
    if (req.signal?.aborted) throw cancelled(`writing ${req.root}`);
    const what = `layer ${i + 1}/${layers.length} (${desc.digest.slice(0, 19)})`;
    index.beginLayer();
    const io: LayerIo = { layout: req.layout, open: w.open, budget: w.budget, chunkVerified: req.openBlob !== undefined, index, ...(req.openLayer ? { openLayer: req.openLayer } : {}), ...(req.reuse ? { reuse: req.reuse } : {}), ...(passedPaths ? { passedPaths } : {}) };
    const r = await applyLayer(io, desc, req.image.config.rootfs.diff_ids[i]!, req.root, what, lowerEmpty, req.signal, (n) => {
      w.done += n;
      report(w, false);
    });
    bytes += r.bytes;
    passed += r.passed;
    index.endLayer();
    lowerEmpty = false;
    report(w, true);
  }
  return { bytes, passed, index: index.finish() };
}

/** An incremental write reports the file content it wrote; a full one the whole layer stream. */
function result(w: LayerWriter, r: { bytes: number; passed: number }, fileIndex: FileIndex | IndexSource | undefined, incremental: boolean): SlotWriteResult {
  return {
    bytesRead: w.done,
    bytesWritten: incremental ? r.passed : r.bytes,
    details: { layers: w.req.image.manifest.layers.length, ...(incremental ? { incremental: true } : {}) },
    ...(fileIndex ? { fileIndex } : {}),
  };
}

/**
 * The layers read above the skipped ones must agree with the signed index that is recorded
 * for the slot in their place: every entry they leave in the final tree, exactly. Both are
 * sorted by path: a merge, with the signed index streamed from the stick (to its end, so its
 * digest is checked again).
 */
async function checkAgainstSigned(seen: FileIndex, signed: IndexSource): Promise<void> {
  const stream = signed.open();
  try {
    let want = await stream.read();
    for (const e of seen.entries) {
      while (want !== undefined && comparePaths(want.path, e.path) < 0) want = await stream.read();
      if (want === undefined || want.path !== e.path || entryLine(want) !== entryLine(e)) {
        throw new FerryError('CORRUPT_FILE_INDEX', `the signed file index does not describe the image's layers (${JSON.stringify(e.path.slice(0, 80))} differs); re-export the media with --file-index`);
      }
    }
    while (want !== undefined) want = await stream.read();
  } finally {
    stream.close();
  }
}

/**
 * A layer that failed to decompress, parse or pass the path checks may simply have been
 * altered on the stick: finish hashing the blob, so a tampered stick is reported as
 * DIGEST_MISMATCH (a security refusal) rather than as the symptom it caused.
 */
async function explainLayerFailure(layout: OciLayout, desc: Descriptor, what: string, e: unknown): Promise<FerryError> {
  const err = isFerryError(e) ? e : toFerryError(e, what);
  if (err.code === 'DIGEST_MISMATCH' || err.code === 'SIZE_MISMATCH' || err.code === 'BLOB_MISSING') return err;
  try {
    await layout.verifyBlob(desc, what);
  } catch (digestErr) {
    if (isFerryError(digestErr, 'DIGEST_MISMATCH') || isFerryError(digestErr, 'SIZE_MISMATCH')) {
      return new FerryError(digestErr.code, digestErr.message, { cause: err, details: { ...digestErr.details, symptom: err.code } });
    }
  }
  return err;
}

/** Opens a blob as a stream of verified bytes. */
type Opener = (desc: Descriptor, what: string) => Readable;

/** Where a layer's bytes come from and what bounds them. */
interface LayerIo {
  layout: OciLayout;
  open: Opener;
  budget: UnpackBudget;
  /** Every byte was checked before it was read on (verified streaming): a failure is never tampering in disguise. */
  chunkVerified: boolean;
  /** Records the file index from the entries as they pass. */
  index: FileIndexBuilder;
  /** An incremental write: what stays in place. */
  reuse?: ReuseWrite;
  /** Collects the paths the reuse gate let through. */
  passedPaths?: Set<string>;
  /** Layers decompressed on a worker (SlotWriteRequest.openLayer). */
  openLayer?: LayerOpener;
}

/** Apply one layer; returns its uncompressed size and the file bytes written. On any failure the tar child is killed before the error is thrown. */
async function applyLayer(io: LayerIo, desc: Descriptor, diffId: string, root: string, what: string, lowerEmpty: boolean, signal: AbortSignal | undefined, onBytes: (n: number) => void): Promise<{ bytes: number; passed: number }> {
  const compression = layerCompression(desc.mediaType);
  const tar = new TarExtractor(root, what);
  const gate = new LayerGate(root, what, lowerEmpty);
  const reuseGate = io.reuse ? new ReuseGate(gate, io.reuse, what, io.passedPaths) : undefined;
  const sanitizer = new TarSanitizer(what, reuseGate ?? gate, tar, io.index);
  const diff = new DigestComputer();
  let got: { diff: string; bytes: number } | undefined;
  try {
    const feed = io.openLayer ? await io.openLayer(desc, what, onBytes) : undefined;
    if (feed) got = await feedLayer(feed, io.budget, sanitizer, tar, what, signal);
    else await pipeline(
      io.open(desc, what),
      new ByteCounter(onBytes),
      decompressor(compression, what),
      io.budget.stage(what),
      diff,
      async (src: AsyncIterable<Buffer>) => {
        for await (const chunk of src) {
          if (signal?.aborted) throw cancelled(what);
          await sanitizer.push(chunk);
        }
        await sanitizer.finish();
      },
      signal ? { signal } : {},
    );
    got ??= { diff: diff.digest, bytes: diff.bytes };
    await tar.end();
  } catch (e) {
    await tar.kill();
    if (signal?.aborted) throw cancelled(what);
    throw io.chunkVerified ? (isFerryError(e) ? e : toFerryError(e, what)) : await explainLayerFailure(io.layout, desc, what, e);
  }
  if (got.diff !== diffId) {
    throw new FerryError('DIGEST_MISMATCH', `${what}: uncompressed content does not match the image config's diff_id (expected ${diffId}, got ${got.diff}): the image was built wrongly or altered; re-export it`, {
      details: { expected: diffId, actual: got.diff, layer: desc.digest },
    });
  }
  await gate.finish();
  return { bytes: got.bytes, passed: reuseGate ? reuseGate.bytesPassed : got.bytes };
}

/**
 * The layer's decompressed pieces from the worker (layer-feed.ts) through the budget and the
 * sanitiser to GNU tar; each ring buffer goes back once tar's pipe has taken all of it.
 * Returns the decompressed stream's digest (the diff_id to check) and size.
 */
async function feedLayer(feed: LayerFeed, budget: UnpackBudget, sanitizer: TarSanitizer, tar: TarExtractor, what: string, signal: AbortSignal | undefined): Promise<{ diff: string; bytes: number }> {
  const onAbort = (): void => feed.fail(cancelled(what));
  signal?.addEventListener('abort', onAbort);
  try {
    for (let p = await feed.next(); p !== undefined; p = await feed.next()) {
      if (signal?.aborted) throw cancelled(what);
      await budget.take(p.buf.length, what);
      await sanitizer.push(p.buf);
      const slot = p.slot;
      void tar.written().then(() => feed.release(slot));
    }
    await sanitizer.finish();
    return feed.result();
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await feed.close();
  }
}
