/**
 * Writing one source layer into a layout: a verified byte copy when the wanted
 * compression is the one the layer already has, else a re-encode in one stream
 * (decompress → check the tar structure → check or compute the diff_id → compress →
 * hash to a temp blob). With `checkLayers`, a copied layer is also decoded on the way:
 * the bytes being copied are teed (same single read) into decompress → diff_id check →
 * tar structure check, and the copy waits for that branch (backpressure).
 */
import { pipeline as pipelineCb, type Readable, Transform, type TransformCallback, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FerryError, isFerryError, toFerryError } from '../errors.js';
import type { ProgressFn } from '../progress.js';
import type { LayoutWriter } from './blob-store.js';
import { compressor, decompressor } from './compress.js';
import { DigestComputer, DigestVerifier } from './digest.js';
import type { SourceLayer } from './source.js';
import { TarStructureCheck } from './tar-check.js';
import { ByteCounter } from './unpacked-size.js';
import { type Compression, type Descriptor, layerMediaType } from './types.js';

/** `--compress`: keep what the source has, or re-encode every layer. */
export type CompressChoice = 'keep' | Compression;

/** What to do with a layer, decided before any write. */
export type LayerAction = { kind: 'copy'; descriptor: Descriptor } | { kind: 'transcode'; to: Compression };

/** Decide copy vs re-encode (pure). */
export function planLayer(layer: SourceLayer, choice: CompressChoice, keepDefault: Compression | undefined): LayerAction {
  const to: Compression = choice !== 'keep' ? choice : layer.descriptor ? layer.compression : (keepDefault ?? layer.compression);
  if (layer.descriptor && to === layer.compression) {
    if (to === 'none' && layer.diffId !== undefined && layer.diffId !== layer.descriptor.digest) {
      throw new FerryError('INVALID_MANIFEST', `${layer.what}: an uncompressed layer's digest ${layer.descriptor.digest} differs from its diff_id ${layer.diffId}`);
    }
    return { kind: 'copy', descriptor: { mediaType: layerMediaType(to), digest: layer.descriptor.digest, size: layer.descriptor.size } };
  }
  return { kind: 'transcode', to };
}

/** A written layer: its descriptor in the new manifest and its diff_id for the config. */
export interface WrittenLayer {
  descriptor: Descriptor;
  diffId: string;
  written: boolean;
  /** Size of the uncompressed tar: counted when decoded, else read cheaply from the blob; undefined when it cannot be trusted. */
  unpackedBytes?: number;
}

/** Options of writeLayer. */
export interface WriteLayerOptions {
  verifyExisting?: boolean;
  /** The layer's chunk digests will be asked for (see LayoutWriter.hasGoodBlob). */
  needChunks?: boolean;
  progress?: ProgressFn;
  /** Decode copied layers too (diff_id + tar structure), in the same read as the copy. */
  checkLayers?: boolean;
}

/** Bytes the tee lets the check branch buffer before the copy waits for it. */
const TEE_BUFFER = 1024 * 1024;

/**
 * A pass-through that also writes every chunk into a branch of `stages` (ending in a
 * sink) and passes the chunk on only once the branch has room for more: the copy
 * runs at the speed of the slower side and memory stays flat. A branch failure fails
 * this stream at once; the branch must also finish cleanly before this stream ends.
 */
export class CheckTee extends Transform {
  private readonly input: Writable;
  private readonly done: Promise<void>;
  /** The branch's own error, once it failed (not set when this stream was destroyed first). */
  branchError: Error | undefined;
  private closing = false;

  constructor(stages: Transform[]) {
    super({ highWaterMark: TEE_BUFFER });
    const input = new Transform({ highWaterMark: TEE_BUFFER, transform: (c, _e, cb) => cb(null, c) });
    const sink = new Writable({ highWaterMark: TEE_BUFFER, write: (_c, _e, cb) => cb() });
    this.input = input;
    this.done = pipeline([input, ...stages, sink]);
    this.done.catch((e: Error) => {
      if (this.closing) return;
      this.branchError = e;
      this.destroy(e);
    });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.branchError) return cb(this.branchError);
    if (this.input.write(chunk)) return cb(null, chunk);
    // a branch that fails while we wait never drains: the catch above destroys us
    this.input.once('drain', () => cb(null, chunk));
  }

  override _flush(cb: TransformCallback): void {
    this.input.end();
    this.done.then(
      () => cb(),
      (e: Error) => cb(e),
    );
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    this.closing = true;
    if (!this.input.destroyed) this.input.destroy();
    cb(err);
  }
}

/** The check of a copied layer: decompress → diff_id (checked, or computed when the source has none) → tar structure. */
export function layerCheckStages(layer: SourceLayer, desc: Descriptor): { stages: Transform[]; diff?: DigestComputer; counter: ByteCounter } {
  const counter = new ByteCounter();
  const stages: Transform[] = [decompressor(layer.compression, layer.what), counter];
  let diff: DigestComputer | undefined;
  if (layer.diffId === undefined) stages.push((diff = new DigestComputer()));
  // an uncompressed layer's diff_id is its digest, which the copy itself checks
  else if (layer.compression !== 'none' || layer.diffId !== desc.digest) stages.push(new DigestVerifier(layer.diffId, -1, `${layer.what} (uncompressed, diff_id)`));
  stages.push(new TarStructureCheck(layer.what));
  return diff ? { stages, diff, counter } : { stages, counter };
}

/**
 * A layer that failed to decode may simply have been altered: hash the source once more
 * so that tampering is reported as DIGEST_MISMATCH / SIZE_MISMATCH rather than as its symptom.
 */
async function explainCheckFailure(layer: SourceLayer, desc: Descriptor, err: FerryError): Promise<FerryError> {
  try {
    await pipeline(layer.open(), new DigestVerifier(desc.digest, desc.size, layer.what), new Writable({ write: (_c, _e, cb) => cb() }));
  } catch (e) {
    if (isFerryError(e, 'DIGEST_MISMATCH') || isFerryError(e, 'SIZE_MISMATCH')) return new FerryError(e.code, e.message, { cause: err, details: { ...e.details, symptom: err.code } });
  }
  return err;
}

async function copyChecked(store: LayoutWriter, layer: SourceLayer, desc: Descriptor, opts: WriteLayerOptions): Promise<WrittenLayer> {
  const { stages, diff, counter } = layerCheckStages(layer, desc);
  const tee = new CheckTee(stages);
  let opened = false;
  const open = (): Readable => {
    opened = true;
    // errors of either side destroy both; writeBlob's pipeline sees them on `tee`
    return pipelineCb(layer.open(), tee, () => undefined);
  };
  try {
    const w = await store.writeBlob(desc, open, opts);
    const diffId = layer.diffId ?? (opened && diff ? diff.digest : desc.digest);
    // a blob already on the media is not read again: measure it there
    const unpackedBytes = opened ? counter.bytes : await store.unpackedSize(desc, layer.compression);
    return { descriptor: w.descriptor, diffId, written: w.written, ...sized(unpackedBytes) };
  } catch (e) {
    if (!opened) throw e;
    const err = isFerryError(e) ? e : toFerryError(e, layer.what);
    throw tee.branchError ? await explainCheckFailure(layer, desc, err) : err;
  }
}

/** Execute a LayerAction into `store`. */
export async function writeLayer(store: LayoutWriter, layer: SourceLayer, action: LayerAction, opts: WriteLayerOptions): Promise<WrittenLayer> {
  if (action.kind === 'copy') {
    if (opts.checkLayers) return copyChecked(store, layer, action.descriptor, opts);
    const range = layer.range ? await layer.range() : undefined;
    const fast = { ...opts, scanGzip: layer.compression === 'gzip' };
    const w = range ? await store.writeBlobFromRange(action.descriptor, range, fast) : layer.chunks ? await store.writeBlobFromChunks(action.descriptor, layer.chunks, fast) : await store.writeBlob(action.descriptor, layer.open, opts);
    const unpackedBytes = await store.unpackedSize(w.descriptor, layer.compression);
    return { descriptor: w.descriptor, diffId: layer.diffId ?? action.descriptor.digest, written: w.written, ...sized(unpackedBytes) };
  }
  const stages: Transform[] = [];
  if (layer.descriptor) stages.push(new DigestVerifier(layer.descriptor.digest, layer.descriptor.size, layer.what));
  stages.push(decompressor(layer.compression, layer.what), new TarStructureCheck(layer.what));
  // diff_id: the sha256 of the uncompressed tar (image-spec config.md, rootfs.diff_ids); its stage also counts the unpacked bytes
  const diff = layer.diffId ? new DigestVerifier(layer.diffId, -1, `${layer.what} (uncompressed, diff_id)`) : new DigestComputer();
  stages.push(diff, compressor(action.to));
  const w = await store.writeStream(layer.open(), stages, layerMediaType(action.to), layer.what, opts.progress, layer.sizeHint);
  const diffId = layer.diffId ?? (diff as DigestComputer).digest;
  return { descriptor: w.descriptor, diffId, written: w.written, unpackedBytes: diff.bytes };
}

function sized(n: number | undefined): { unpackedBytes?: number } {
  return n === undefined ? {} : { unpackedBytes: n };
}
