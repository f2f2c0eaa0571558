/**
 * The image an apply writes, resolved on the stick before anything is touched, and how
 * the slot reads its blobs (chunk-verified where the signed update pins a chunk index).
 */
import type { Readable } from 'node:stream';
import { FerryError } from '../errors.js';
import { openMediaLayout } from '../media/source.js';
import { CHUNK_INDEX_CAP, type ChunkIndex, chunksOf, parseChunkIndex } from '../oci/chunk-index.js';
import { openBlobFile, readChunkVerified, sourceChunkVerified, TAILS } from '../oci/chunk-reader.js';
import type { OciLayout, ResolvedImage } from '../oci/layout.js';
import { type Descriptor, layerCompression } from '../oci/types.js';
import { LayerFeed, newRing } from './extract/layer-feed.js';
import type { InstallPlan } from './plan.js';
import type { LayerOpener, ReuseWrite } from './types.js';

/**
 * The planned image on the stick, resolved before anything is touched: its manifest and
 * config (small, digest-checked before they are parsed), its chunk index (pinned by the
 * signed update; every layer must be covered, with its signed size), and how its blobs are read.
 */
export interface PlannedImage {
  layout: OciLayout;
  image: ResolvedImage;
  /** undefined: legacy media without a chunk index (policy.legacyMedia "preverify"). */
  chunks: ChunkIndex | undefined;
  /** Set when the slot is written incrementally (reuse.ts). */
  reuse?: ReuseWrite;
}

export async function openPlannedImage(mediaRoot: string, legacyMedia: string, plan: InstallPlan): Promise<PlannedImage> {
  const layout = await openMediaLayout(mediaRoot);
  const image = await layout.resolveImage(plan.update.image.manifest, plan.update.image.platform, plan.update.image.ref);
  const pinned = plan.update.image.chunkIndex;
  if (pinned === undefined) {
    if (legacyMedia !== 'preverify') {
      throw new FerryError('CHUNK_INDEX_MISSING', `${plan.update.id} was exported by an older ferry: its signed update pins no chunk index, so its layers cannot be checked before they are unpacked; ask headquarters to re-export the stick (or set policy.legacyMedia to "preverify")`);
    }
    return { layout, image, chunks: undefined };
  }
  const chunks = parseChunkIndex(await layout.readJsonBlob(pinned, CHUNK_INDEX_CAP, `chunk index of ${plan.update.id}`), `chunk index of ${plan.update.id}`);
  for (const [i, l] of image.manifest.layers.entries()) chunksOf(chunks, l, `layer ${i + 1}`);
  return { layout, image, chunks };
}

/** How the slot reads a blob: chunk-verified for layers; small blobs (config, manifest: bootc copies them) digest-checked while streaming. */
export function blobOpener({ layout, chunks }: PlannedImage): (desc: Descriptor, what: string) => Readable {
  if (chunks === undefined) return (desc, what) => layout.openBlob(desc, what);
  return (desc, what) => {
    if (!Object.hasOwn(chunks.blobs, desc.digest)) return layout.openBlob(desc, what);
    const list = chunksOf(chunks, desc, what);
    // a site registry: each chunk read by the raw GET straight into its buffer, then the same checks (unverified bytes never passed on)
    const direct = layout.blobChunks(desc, what);
    if (direct) return sourceChunkVerified(direct, desc, list, chunks.chunkSize, what);
    return readChunkVerified(() => layout.blobRange(desc.digest), desc, list, chunks.chunkSize, what);
  };
}


/**
 * How the slot reads a layer of a stick with a chunk index: decompressed on a worker thread
 * (extract/layer-feed.ts) with the same checks as blobOpener's stream. Undefined for legacy
 * media; the opener answers undefined for a blob it does not cover, a site registry (its
 * chunks arrive by HTTP: blobOpener), or where no worker thread can start.
 */
export function layerOpener({ layout, chunks }: PlannedImage): LayerOpener | undefined {
  if (chunks === undefined) return undefined;
  // One ring for the image's layers: they are written one after another, and a layer's tar has
  // taken every byte of its pieces (tar.end) before the next layer opens. A ring per layer was
  // 8 MiB more of shared memory per layer until a full collection freed it.
  let ring: SharedArrayBuffer | undefined;
  return async (desc, what, onRead) => {
    if (!Object.hasOwn(chunks.blobs, desc.digest) || layout.blobChunks(desc, what)) return undefined;
    const list = chunksOf(chunks, desc, what);
    const { fh, range } = await openBlobFile(await layout.blobRange(desc.digest), desc, what);
    const job = { fh, start: range.start, size: desc.size, digest: desc.digest, chunks: list, chunkSize: chunks.chunkSize, compression: layerCompression(desc.mediaType), what, tails: TAILS.stick };
    ring ??= newRing();
    const feed = LayerFeed.start(job, onRead, ring);
    if (!feed) await fh.close();
    return feed;
  };
}
