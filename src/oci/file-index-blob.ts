/**
 * The file index as a blob on the stick (DESIGN.md section 6, "File index"): gzip-compressed
 * ferry.files/v1 JSON, a loose blob in oci/blobs/sha256/ pinned by digest from the signed
 * update manifest's `image.fileIndex` (like the chunk index, no image manifest lists it).
 */
import { type Descriptor, isSha256Digest } from './types.js';

/** The media type of a file index blob (gzip, not DESIGN.md's zstd: node:zlib gzip is everywhere and `zcat` reads it). */
export const FILE_INDEX_MEDIA_TYPE = 'application/vnd.ferry.files.v1+json+gzip';
/** Compressed bytes a file index blob may have (500,000 entries compress to ~20 MiB). */
export const FILE_INDEX_BLOB_CAP = 64 * 1024 * 1024;

/** True for a well-formed descriptor of a file index blob within the cap. */
export function isFileIndexDescriptor(d: unknown): d is Descriptor {
  if (typeof d !== 'object' || d === null) return false;
  const o = d as Record<string, unknown>;
  return o.mediaType === FILE_INDEX_MEDIA_TYPE && isSha256Digest(o.digest) && typeof o.size === 'number' && Number.isSafeInteger(o.size) && o.size > 0 && o.size <= FILE_INDEX_BLOB_CAP;
}
