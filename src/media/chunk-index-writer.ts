/**
 * Writing an image's chunk index at export (oci/chunk-index.ts). The chunk digests of
 * layers this run copied were computed in the same read as the copy. A layer already on
 * the stick is read once more and hashed whole and per chunk: its chunk list must come
 * from its real bytes, never from an earlier (unsigned, possibly altered) index on the
 * stick, because the device trusts the signed chunk list in place of the blob digest.
 */
import type { ProgressFn } from '../progress.js';
import { CHUNK_INDEX_MEDIA_TYPE, CHUNK_INDEX_SCHEMA, DEFAULT_CHUNK_SIZE, serializeChunkIndex } from '../oci/chunk-index.js';
import type { Descriptor } from '../oci/types.js';
import type { MediaStore } from './store.js';

/** Write the chunk index of `layers` and return its descriptor (to pin in the update manifest). */
export async function writeChunkIndex(store: MediaStore, layers: Descriptor[], opts: { verifyExisting?: boolean; progress?: ProgressFn; background?: boolean }): Promise<Descriptor> {
  const blobs: Record<string, string[]> = {};
  for (const [i, d] of layers.entries()) {
    opts.progress?.({ step: 'chunk-index', bytesDone: i, bytesTotal: layers.length, detail: d.digest });
    blobs[d.digest] = await store.layout.chunksOf(d);
  }
  const bytes = serializeChunkIndex({ schema: CHUNK_INDEX_SCHEMA, chunkSize: DEFAULT_CHUNK_SIZE, blobs });
  const w = await store.layout.writeBytes(bytes, CHUNK_INDEX_MEDIA_TYPE, { verifyExisting: opts.verifyExisting ?? false, background: opts.background ?? false });
  return { mediaType: CHUNK_INDEX_MEDIA_TYPE, digest: w.descriptor.digest, size: w.descriptor.size };
}
