/**
 * `ferry export`: put one image onto the media store, as a script of named steps
 * (plan, check capacity, write layers, config, manifest, index last). Blobs already on
 * the stick are shared, not rewritten. Signing is a separate step (publish.ts).
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { FerryError, toFerryError } from '../errors.js';
import type { ProgressFn } from '../progress.js';
import { checkTargetAndVersion, parseInputName } from '../oci/input-name.js';
import type { ChunkCache } from '../oci/chunk-cache.js';
import type { LayoutWriter } from '../oci/blob-store.js';
import { warmChunkHasher } from '../oci/chunk-hasher-parallel.js';
import { type CompressChoice, type LayerAction, planLayer, writeLayer } from '../oci/layer-copy.js';
import type { RegistryOptions } from '../oci/registry/client.js';
import { openImageSource, type SourceImage } from '../oci/source.js';
import { Annotation, type Descriptor, MediaType, type Platform } from '../oci/types.js';
import { type LockOptions, type MediaLock, withMediaLock } from './lock.js';
import { checkMediaPath } from './media-path.js';
import { plannedWrites } from './export-space.js';
import { checkStoreCapacity, mediaPaths, openMediaStore, type PlannedBlob } from './store.js';
import { writeChunkIndex } from './chunk-index-writer.js';
import { mapBounded } from '../util/bounded.js';
import { ExportProgress } from './export-progress.js';
import { sourceRecord } from './source-record.js';
import type { ImageSource } from '../trust/types.js';

/** What to export and where. */
export interface ExportRequest {
  /** An input name: oci:DIR[:REF], oci-archive:FILE[:REF], docker-archive:FILE[:REF], rootfs:PATH, docker://HOST/REPO:TAG. */
  image: string;
  target: string;
  version: string;
  /** The folder that holds (or will hold) FERRY/. */
  mediaRoot: string;
  platform?: Platform;
  compress?: CompressChoice;
  /** Write the chunk index the signed update will pin (default true); false for an export that will not be signed now. */
  chunkIndex?: boolean;
  /** Also compute the image's file index (every file with metadata and SHA-256) and write it as a blob for the signed update to pin. */
  fileIndex?: boolean;
  /** Re-hash blobs already on the media instead of trusting name + size. */
  verifyExisting?: boolean;
  /** HQ's cache of chunk lists (oci/chunk-cache.ts): layers already on the stick are not re-read for their chunk digests. */
  chunkCache?: ChunkCache;
  /**
   * Also decode layers that are copied unchanged (`--compress keep`): in the same read as
   * the copy, check the diff_id and the tar structure, so a corrupt stream or a wrong
   * diff_id is refused here rather than on the device. Re-encoded layers are always decoded.
   */
  checkLayers?: boolean;
  progress?: ProgressFn;
  /** How to reach the registry of a docker:// image (--authfile, --tls-verify, --cert-dir). */
  registry?: RegistryOptions;
  /** Timestamp for rootfs images (SOURCE_DATE_EPOCH); default 0. */
  sourceDateEpoch?: number;
  /** Replace a different image already on the media under the same `<target>-<version>` (and drop its signed update manifest). */
  replace?: boolean;
  /** The media folder may be created (default true for library callers; the CLI asks for --create). */
  create?: boolean;
  /** The stick's write lock, when the caller already holds it (export + sign in one lock). */
  lock?: MediaLock;
  /** Further files this run will write (the signed update manifest and its signature), for the space check. */
  alsoWrites?: PlannedBlob[];
  /** How to wait for another writer of the stick (when `lock` is not given). */
  lockOptions?: LockOptions;
  /**
   * The image, already opened from `image` (a campaign build opens it once and gives each
   * stick a view whose blobs come from one shared read, media/campaign/shared-reads.ts).
   */
  source?: SourceImage;
}

/** What export did. `manifest` is the descriptor exactly as written into index.json. */
export interface ExportResult {
  ref: string;
  manifest: Descriptor;
  platform: Platform;
  /** config + layer sizes. */
  payloadBytes: number;
  /** Sum of the uncompressed layer tar sizes, when every layer's is known (oci/unpacked-size.ts); the space a dir or block slot needs. */
  unpackedBytes?: number;
  /** The chunk index blob (oci/chunk-index.ts) written beside the image, to pin in the update manifest (absent with chunkIndex: false). */
  chunkIndex?: Descriptor;
  /** The file index blob (media/file-index-writer.ts), with fileIndex: true. */
  fileIndex?: Descriptor;
  blobsWritten: number;
  bytesWritten: number;
  blobsSkipped: number;
  bytesSkipped: number;
  /** Bytes downloaded, when the image came from a registry (blobs already on the stick are not). */
  bytesFetched?: number;
  /** The same image was already on the media under this ref: nothing changed (signatures kept). */
  unchanged: boolean;
  /** The manifest digest that `--replace` replaced, when a different image was there. */
  replaced?: string;
  /** Where the image came from when it had to be converted (its digest on the stick is new): for the signed update manifest's image.source. */
  source?: ImageSource;
  /** The entry this ref had before (undoExport puts it back). */
  previous?: Descriptor;
  /** Things the user should know (media path on the root file system, digest changed by a conversion). */
  warnings: string[];
}

/**
 * Layers copied from byte ranges of local files (an oci-archive, a layout, a docker-archive) at
 * once: each copy hashes on both cores (oci/blob-store.ts) but also waits for its reads, writes
 * and the hashing worker, and a second copy fills those waits. Fresh ext4 per run, alternating:
 * 256 MiB (3 layers) 0.505 -> 0.485 s (12 rounds, faster in 8); 1 GiB (5 layers) 1.52 -> 1.34 s
 * (4 rounds, faster in 4). Costs one more pool of copy buffers (4 MiB). Two, not more: both
 * cores are busy then.
 */
const RANGE_COPIES = 2;

/** The ref name of an image on the media (DESIGN.md section 1). */
export function refName(target: string, version: string): string {
  return `${target}-${version}`;
}

/** True when the source's own OCI manifest describes exactly these blobs, so its bytes (and digest) can be kept. */
function sameAsOriginal(src: SourceImage, config: Descriptor, layers: Descriptor[]): boolean {
  const o = src.original;
  // the manifest's own mediaType is optional (umoci omits it): the descriptor's says what it is
  if (!o || o.descriptor.mediaType !== MediaType.imageManifest || (o.manifest.mediaType !== undefined && o.manifest.mediaType !== MediaType.imageManifest)) return false;
  const same = (a: Descriptor, b: Descriptor) => a.digest === b.digest && a.size === b.size && a.mediaType === b.mediaType;
  return same(o.manifest.config, config) && o.manifest.layers.length === layers.length && o.manifest.layers.every((l, i) => same(l, layers[i]!));
}

function newManifest(src: SourceImage, config: Descriptor, layers: Descriptor[]): Record<string, unknown> {
  const manifest: Record<string, unknown> = { schemaVersion: 2, mediaType: MediaType.imageManifest, config, layers };
  if (src.manifestAnnotations) manifest.annotations = src.manifestAnnotations;
  return manifest;
}

/** Export one image onto the media; index.json names it `<target>-<version>`. Holds the stick's lock while writing. */
export async function exportImage(req: ExportRequest): Promise<ExportResult> {
  checkTargetAndVersion(req.target, req.version);
  const input = parseInputName(req.image);
  warmChunkHasher(); // chunk digests (and a download's digests) are hashed on that thread: up before the first chunk
  const epoch = req.sourceDateEpoch ?? 0;
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new FerryError('USAGE', `source date epoch ${epoch} is not a non-negative integer`);
  if (req.lock) return exportSettled(req, input, epoch, req.lock);
  const warnings = await checkMediaPath(req.mediaRoot, { create: req.create ?? true });
  const r = await withMediaLock(req.mediaRoot, `export ${refName(req.target, req.version)}`, req.lockOptions ?? {}, (lock) => exportSettled(req, input, epoch, lock));
  return { ...r, warnings: [...warnings, ...r.warnings] };
}

/** The manifest digest export will write, when it is known before any blob is written (every layer copied, the source manifest kept). */
function predictedManifest(src: SourceImage, actions: LayerAction[]): Descriptor | undefined {
  if (src.config.kind !== 'blob' || !actions.every((a) => a.kind === 'copy')) return undefined;
  const layers = actions.map((a) => (a.kind === 'copy' ? a.descriptor : undefined)!);
  return sameAsOriginal(src, src.config.descriptor, layers) ? src.original!.descriptor : undefined;
}

function versionExists(ref: string, existing: Descriptor, incoming: string): FerryError {
  return new FerryError('VERSION_EXISTS', `${ref} is already on the media as ${existing.digest}, a different image (${incoming}): choose a new version, or pass --replace to replace it and its signed update manifest`, {
    details: { ref, existing: existing.digest, incoming },
  });
}

/** exportLocked, and on failure wait for its background blob syncs, so that no blob is named after the caller undoes the run. */
async function exportSettled(req: ExportRequest, input: ReturnType<typeof parseInputName>, epoch: number, lock: MediaLock): Promise<ExportResult> {
  const opened: { layout?: LayoutWriter } = {};
  try {
    return await exportLocked(req, input, epoch, lock, opened);
  } catch (e) {
    await opened.layout?.settle();
    throw e;
  }
}

async function exportLocked(req: ExportRequest, input: ReturnType<typeof parseInputName>, epoch: number, lock: MediaLock, opened: { layout?: LayoutWriter }): Promise<ExportResult> {
  const progress = req.progress;
  const ref = refName(req.target, req.version);
  const src = req.source ?? await openImageSource(input, { sourceDateEpoch: epoch, ...(req.platform ? { platform: req.platform } : {}), ...(req.registry ? { registry: req.registry } : {}) });
  const actions = src.layers.map((l) => planLayer(l, req.compress ?? 'keep', src.keepDefault));
  const store = await openMediaStore(req.mediaRoot);
  opened.layout = store.layout;
  const existing = (await store.layout.readIndex()).manifests.find((d) => d.annotations?.[Annotation.refName] === ref);
  const predicted = predictedManifest(src, actions);
  if (existing && predicted && predicted.digest !== existing.digest && !req.replace) throw versionExists(ref, existing, predicted.digest);
  const planned = await plannedWrites(store.layout, src, actions, { chunkIndex: req.chunkIndex !== false, keptManifest: predicted !== undefined });
  await checkStoreCapacity(store, [...planned, ...(req.alsoWrites ?? [])]);
  store.layout.onWrite = (file) => lock.wrote(file);

  const tally = { blobsWritten: 0, bytesWritten: 0, blobsSkipped: 0, bytesSkipped: 0 };
  const count = (d: Descriptor, written: boolean) => {
    if (written) (tally.blobsWritten++, (tally.bytesWritten += d.size));
    else (tally.blobsSkipped++, (tally.bytesSkipped += d.size));
  };
  const opts = { verifyExisting: req.verifyExisting ?? false, checkLayers: req.checkLayers ?? false };
  const configSize = src.config.kind === 'blob' ? src.config.descriptor.size : 0;
  const track = new ExportProgress(progress, src.layers.reduce((n, l) => n + l.sizeHint, 0) + configSize, src.layers.length);
  const withProgress = <T extends object>(o: T, p: ProgressFn | undefined): T & { progress?: ProgressFn } => (p ? { ...o, progress: p } : o);

  const layers: Descriptor[] = [];
  const diffIds: string[] = [];
  let unpacked: number | undefined = 0;
  // A signed export pins each layer's chunk digests, which the device trusts in place of the blob
  // digest: they must come from the layer's real bytes. A layer already on the stick gets them
  // from HQ's chunk cache (lists computed from verified bytes, never from the stick), else it is
  // re-read, and the same read finds a damaged copy, which is then replaced.
  if (req.chunkCache) store.layout.chunkCache = req.chunkCache;
  const layerOpts = { ...opts, needChunks: req.chunkIndex !== false };
  // a layer that repeats an earlier one (same digest) waits for it, then finds it on the stick
  const sameBlob = new Map<string, Promise<unknown>>();
  // HQ's chunk cache is written beside the copy, not before the next layer: its fsync would
  // otherwise wait behind the sync of the blob just copied (awaited before index.json below)
  const caching: Promise<void>[] = [];
  const written = await mapBounded(src.layers, src.concurrency ?? (opts.checkLayers || !src.layers.every((l, i) => l.range && actions[i]!.kind === 'copy') ? 1 : RANGE_COPIES), async (layer, i) => {
    const key = layer.descriptor?.digest;
    const before = key !== undefined ? sameBlob.get(key) : undefined;
    const run = (async () => {
      await before?.catch(() => undefined);
      const w = await writeLayer(store.layout, layer, actions[i]!, withProgress(layerOpts, track.blob(i + 1, layer.sizeHint, layer.what)));
      track.finish(layer.sizeHint, i + 1, layer.what);
      caching.push(store.layout.facts.persist(w.descriptor)); // into HQ's chunk cache, for the next export onto this stick
      return w;
    })();
    if (key !== undefined) sameBlob.set(key, run);
    return run;
  });
  for (const w of written) {
    count(w.descriptor, w.written);
    layers.push(w.descriptor);
    diffIds.push(w.diffId);
    unpacked = unpacked === undefined || w.unpackedBytes === undefined ? undefined : unpacked + w.unpackedBytes;
  }

  // config, manifest and chunk index are synced and named in the background too, beside the
  // layers' syncs (one wait, not three in a row); flush() below waits for all before index.json
  const small = { ...opts, background: true };
  const cfg = src.config.kind === 'blob' ? await store.layout.writeBlob(src.config.descriptor, src.config.open, small) : await store.layout.writeBytes(src.config.build(diffIds), MediaType.imageConfig, small);
  track.finish(configSize, src.layers.length, 'config');
  count(cfg.descriptor, cfg.written);

  const man = sameAsOriginal(src, cfg.descriptor, layers)
    ? await store.layout.writeBlob(src.original!.descriptor, src.original!.open, small)
    : await store.layout.writeBytes(Buffer.from(JSON.stringify(newManifest(src, cfg.descriptor, layers))), MediaType.imageManifest, small);
  count(man.descriptor, man.written);

  // The chunk index is a loose blob that only a signed update manifest names: written (before
  // index.json names the image) when the caller will sign, so an unsigned export leaves no orphan.
  const chunkIndex = req.chunkIndex === false ? undefined : await writeChunkIndex(store, layers, small);
  // loaded only when asked for: it pulls in the device's tar and file-index code (start-up of every export)
  const fileIndex = req.fileIndex ? await (await import('./file-index-writer.js')).writeFileIndex(store, man.descriptor, layers, { ...opts, chunkIndex: req.chunkIndex !== false }) : undefined;

  const converted = sourceRecord(input.transport, src, req.compress ?? 'keep', man.descriptor, cfg.descriptor);
  const entry: Descriptor = {
    mediaType: MediaType.imageManifest,
    digest: man.descriptor.digest,
    size: man.descriptor.size,
    annotations: { [Annotation.refName]: ref, [Annotation.version]: req.version },
  };
  const unchanged = existing !== undefined && existing.digest === entry.digest && existing.size === entry.size && !req.replace;
  if (existing && !unchanged && existing.digest !== entry.digest && !req.replace) throw versionExists(ref, existing, entry.digest);
  await store.layout.flush(); // every blob synced and named before anything names the image
  await Promise.all(caching); // (never rejects: a cache that cannot be written costs a re-read next time)
  if (existing && req.replace) await removeSignedUpdate(req.mediaRoot, ref);
  // the run's blobs count as committed in the same step as index.json names them: a Ctrl-C
  // handler (cli/cancel.ts) that runs right after the rename must not remove them
  if (!unchanged) await store.layout.addToIndex([entry], () => lock.commit()).catch((e: unknown) => Promise.reject(toFerryError(e, `cannot write ${path.join(store.paths.oci, 'index.json')}`)));
  track.end(`index.json names ${ref}`);
  lock.commit();
  const payloadBytes = cfg.descriptor.size + layers.reduce((n, d) => n + d.size, 0);
  const replaced = existing && req.replace && existing.digest !== entry.digest ? { replaced: existing.digest } : {};
  const fetched = src.bytesFetched ? { bytesFetched: src.bytesFetched() } : {};
  return { ref, manifest: entry, platform: src.platform, payloadBytes, ...fetched, ...(unpacked !== undefined ? { unpackedBytes: unpacked } : {}), ...(chunkIndex ? { chunkIndex } : {}), ...(fileIndex ? { fileIndex } : {}), ...tally, unchanged, ...replaced, ...(existing ? { previous: existing } : {}), ...(converted ? { source: converted.source } : {}), warnings: [...(converted ? [converted.warning] : []), ...repairedWarnings(store.layout.repaired)] };
}

/** Remove `updates/<id>.json` (first: nothing lists the update any more) and then its signature. */
export async function removeSignedUpdate(mediaRoot: string, id: string): Promise<void> {
  const file = path.join(mediaPaths(mediaRoot).updates, `${id}.json`);
  await fsp.rm(file, { force: true });
  await fsp.rm(`${file}.p7s`, { force: true });
}

/**
 * Undo an export whose signing failed (same lock): index.json gets its previous entry for
 * the ref back (or loses it), then the blobs this run wrote are removed. Index first, so
 * the layout never names a missing blob.
 */
export async function undoExport(mediaRoot: string, r: ExportResult, lock: MediaLock): Promise<void> {
  if (!r.unchanged) {
    const layout = (await openMediaStore(mediaRoot)).layout;
    if (r.previous) await layout.addToIndex([r.previous]);
    else await layout.removeFromIndex(r.ref);
    for (const f of lock.takeCommitted()) await fsp.rm(f, { force: true });
  }
  await lock.rollback();
}

function repairedWarnings(repaired: string[]): string[] {
  return repaired.map((d) => `blob ${d} on the media was damaged (its content did not match its digest) and was written again: check the stick's health`);
}
