/**
 * `ferry export --file-index`: the image's file index computed at headquarters from the
 * layers just written (each decoded once, through the same tar sanitiser and index
 * builder the device uses while it writes a slot, so both agree entry for entry), then
 * stored as a gzip blob beside the image for the signed update manifest to pin.
 */
import { pipeline } from 'node:stream/promises';
import { FerryError } from '../errors.js';
import { whiteoutOf } from '../device/extract/entry-path.js';
import { TarSanitizer } from '../device/extract/tar-sanitizer.js';
import type { FileIndex } from '../device/files/file-index.js';
import { FileIndexBuilder } from '../device/files/index-builder.js';
import { gzipIndex } from '../device/files/index-store.js';
import { LayerFeed, newRing } from '../device/extract/layer-feed.js';
import { DEFAULT_CHUNK_SIZE } from '../oci/chunk-index.js';
import { openBlobFile, TAILS } from '../oci/chunk-reader.js';
import { decompressor } from '../oci/compress.js';
import { FILE_INDEX_BLOB_CAP, FILE_INDEX_MEDIA_TYPE } from '../oci/file-index-blob.js';
import { OciLayout } from '../oci/layout.js';
import { type Descriptor, layerCompression } from '../oci/types.js';
import type { ProgressFn } from '../progress.js';
import type { MediaStore } from './store.js';

/**
 * The chunk list of a layer already written (known from its copy); given, the layer is
 * decompressed on the device's inflate worker into a ring of reused buffers (extract/layer-feed.ts)
 * instead of node:zlib streams on this thread: those make a new 1 MiB buffer per piece, and
 * between two full garbage collections up to ~70 MiB of them piled up (issue 14).
 */
export type ChunksOf = (desc: Descriptor) => Promise<string[]>;

/** The file index of the image whose `layers` are in `layout` (digest-checked as they are read). */
export async function buildImageFileIndex(layout: OciLayout, layers: Descriptor[], image: string, progress?: ProgressFn, chunksOf?: ChunksOf): Promise<FileIndex> {
  const builder = new FileIndexBuilder(image);
  // one ring for every layer: each feed is closed, and its pieces parsed, before the next starts
  const ring = chunksOf ? newRing() : undefined;
  for (const [i, d] of layers.entries()) {
    const what = `layer ${i + 1}/${layers.length} (${d.digest.slice(0, 19)})`;
    progress?.({ step: 'file-index', bytesDone: i, bytesTotal: layers.length, detail: d.digest });
    builder.beginLayer();
    // Whiteouts are the builder's to interpret; nothing is extracted here, so bytes go nowhere.
    const sanitizer = new TarSanitizer(what, { admit: (e) => (whiteoutOf(e.path, what) ? 'drop' : 'pass') }, { write: async () => undefined }, builder);
    const feed = chunksOf && ring ? await openFeed(layout, d, what, await chunksOf(d), ring) : undefined;
    if (feed) await drain(feed, sanitizer);
    else await pipeline(layout.openBlob(d, what), decompressor(layerCompression(d.mediaType), what), async (src: AsyncIterable<Buffer>) => {
      for await (const chunk of src) await sanitizer.push(chunk);
      await sanitizer.finish();
    });
    builder.endLayer();
  }
  const index = builder.finish();
  if (!index) throw new FerryError('LIMIT_EXCEEDED', `the image has more entries than a file index holds; export it without --file-index`);
  return index;
}

/** The layer decompressed on the inflate worker from chunk-checked bytes; undefined where no worker can run. */
async function openFeed(layout: OciLayout, d: Descriptor, what: string, chunks: string[], ring: SharedArrayBuffer): Promise<LayerFeed | undefined> {
  const { fh, range } = await openBlobFile(await layout.blobRange(d.digest), d, what);
  const job = { fh, start: range.start, size: d.size, digest: d.digest, chunks, chunkSize: DEFAULT_CHUNK_SIZE, compression: layerCompression(d.mediaType), what, tails: TAILS.stick };
  const feed = LayerFeed.start(job, () => undefined, ring);
  if (!feed) await fh.close();
  return feed;
}

/** Every piece through the sanitiser; a ring buffer goes back as soon as it was parsed (nothing is written, so nothing holds it). */
async function drain(feed: LayerFeed, sanitizer: TarSanitizer): Promise<void> {
  try {
    for (let p = await feed.next(); p !== undefined; p = await feed.next()) {
      await sanitizer.push(p.buf);
      feed.release(p.slot);
    }
    await sanitizer.finish();
    feed.result(); // the worker checked every chunk and the blob digest
  } finally {
    await feed.close();
  }
}

/** Build the index of the image `manifest` (its layers already on the stick) and write it as a blob. */
export async function writeFileIndex(store: MediaStore, manifest: Descriptor, layers: Descriptor[], opts: { verifyExisting?: boolean; progress?: ProgressFn; chunkIndex?: boolean }): Promise<Descriptor> {
  const layout = await OciLayout.open(store.paths.oci);
  const index = await buildImageFileIndex(layout, layers, manifest.digest, opts.progress, opts.chunkIndex === false ? undefined : (d) => store.layout.chunksOf(d));
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of gzipIndex(index)) {
    size += (c as Buffer).length;
    if (size > FILE_INDEX_BLOB_CAP) throw new FerryError('LIMIT_EXCEEDED', `the file index is over ${FILE_INDEX_BLOB_CAP} bytes compressed; export without --file-index`);
    chunks.push(c as Buffer);
  }
  const w = await store.layout.writeBytes(Buffer.concat(chunks), FILE_INDEX_MEDIA_TYPE, { verifyExisting: opts.verifyExisting ?? false });
  return { mediaType: FILE_INDEX_MEDIA_TYPE, digest: w.descriptor.digest, size: w.descriptor.size };
}
