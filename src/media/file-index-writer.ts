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
import { decompressor } from '../oci/compress.js';
import { FILE_INDEX_BLOB_CAP, FILE_INDEX_MEDIA_TYPE } from '../oci/file-index-blob.js';
import { OciLayout } from '../oci/layout.js';
import { type Descriptor, layerCompression } from '../oci/types.js';
import type { ProgressFn } from '../progress.js';
import type { MediaStore } from './store.js';

/** The file index of the image whose `layers` are in `layout` (digest-checked as they are read). */
export async function buildImageFileIndex(layout: OciLayout, layers: Descriptor[], image: string, progress?: ProgressFn): Promise<FileIndex> {
  const builder = new FileIndexBuilder(image);
  for (const [i, d] of layers.entries()) {
    const what = `layer ${i + 1}/${layers.length} (${d.digest.slice(0, 19)})`;
    progress?.({ step: 'file-index', bytesDone: i, bytesTotal: layers.length, detail: d.digest });
    builder.beginLayer();
    // Whiteouts are the builder's to interpret; nothing is extracted here, so bytes go nowhere.
    const sanitizer = new TarSanitizer(what, { admit: (e) => (whiteoutOf(e.path, what) ? 'drop' : 'pass') }, { write: async () => undefined }, builder);
    await pipeline(layout.openBlob(d, what), decompressor(layerCompression(d.mediaType), what), async (src: AsyncIterable<Buffer>) => {
      for await (const chunk of src) await sanitizer.push(chunk);
      await sanitizer.finish();
    });
    builder.endLayer();
  }
  const index = builder.finish();
  if (!index) throw new FerryError('LIMIT_EXCEEDED', `the image has more entries than a file index holds; export it without --file-index`);
  return index;
}

/** Build the index of the image `manifest` (its layers already on the stick) and write it as a blob. */
export async function writeFileIndex(store: MediaStore, manifest: Descriptor, layers: Descriptor[], opts: { verifyExisting?: boolean; progress?: ProgressFn }): Promise<Descriptor> {
  const layout = await OciLayout.open(store.paths.oci);
  const index = await buildImageFileIndex(layout, layers, manifest.digest, opts.progress);
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
