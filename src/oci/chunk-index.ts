/**
 * The chunk index (README "On-media format", DESIGN.md §6): for every layer blob of an
 * image, the SHA-256 of each fixed-size chunk. It is one loose blob on the stick,
 * pinned by digest from the signed update manifest (`image.chunkIndex`), so a device
 * can check every chunk BEFORE any byte of it reaches a decompressor or a tar parser:
 * the bytes parsed are exactly the bytes hashed, and a stick that changes its answers
 * between reads gains nothing. Pure: no I/O here.
 */
import { createHash, type Hash } from 'node:crypto';
import { FerryError } from '../errors.js';
import { type Descriptor, isSha256Digest } from './types.js';

export const CHUNK_INDEX_MEDIA_TYPE = 'application/vnd.ferry.chunks.v1+json';
export const CHUNK_INDEX_SCHEMA = 'ferry.chunks/v1';
/** 4 MiB: large enough that hashing per chunk costs nothing extra, small enough to buffer one. */
export const DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024;
/** The index is read whole into memory on the device: 16 MiB holds ~250,000 chunks (~1 TiB of layers). */
export const CHUNK_INDEX_CAP = 16 * 1024 * 1024;
const MIN_CHUNK = 64 * 1024;
const MAX_CHUNK = 64 * 1024 * 1024;
const HEX64 = /^[0-9a-f]{64}$/;

/** The parsed index: chunk digests (hex) per layer digest. */
export interface ChunkIndex {
  schema: typeof CHUNK_INDEX_SCHEMA;
  chunkSize: number;
  blobs: Record<string, string[]>;
}

/** Number of chunks a blob of `size` bytes has (the last may be short; an empty blob has none). */
export function chunkCount(size: number, chunkSize: number): number {
  return Math.ceil(size / chunkSize);
}

/** Hashes a byte stream in fixed-size chunks, whatever the sizes of the pieces fed to it. */
export class ChunkHasher {
  private hash: Hash = createHash('sha256');
  private fill = 0;
  private readonly out: string[] = [];

  constructor(readonly chunkSize: number = DEFAULT_CHUNK_SIZE) {}

  /** Feed the next bytes. */
  update(buf: Uint8Array): void {
    let off = 0;
    while (off < buf.length) {
      const n = Math.min(this.chunkSize - this.fill, buf.length - off);
      this.hash.update(off === 0 && n === buf.length ? buf : buf.subarray(off, off + n));
      this.fill += n;
      off += n;
      if (this.fill === this.chunkSize) this.cut();
    }
  }

  /** The chunk digests (hex) of everything fed; the hasher is spent afterwards. */
  finish(): string[] {
    if (this.fill > 0) this.cut();
    return this.out;
  }

  private cut(): void {
    this.out.push(this.hash.digest('hex'));
    this.hash = createHash('sha256');
    this.fill = 0;
  }
}

/** The canonical bytes of an index (sorted keys, no spaces): the same layers give the same digest. */
export function serializeChunkIndex(index: ChunkIndex): Buffer {
  const blobs: Record<string, string[]> = {};
  for (const k of Object.keys(index.blobs).sort()) blobs[k] = index.blobs[k]!;
  return Buffer.from(JSON.stringify({ blobs, chunkSize: index.chunkSize, schema: index.schema }));
}

function invalid(what: string, why: string): FerryError {
  return new FerryError('MANIFEST_INVALID', `${what} is invalid: ${why}: re-export the stick at headquarters`);
}

/** Validate a parsed chunk index (read only after its digest matched the signed descriptor). */
export function parseChunkIndex(v: unknown, what = 'chunk index'): ChunkIndex {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid(what, 'not a JSON object');
  const o = v as Record<string, unknown>;
  if (o.schema !== CHUNK_INDEX_SCHEMA) throw invalid(what, `schema is ${JSON.stringify(o.schema)}, expected "${CHUNK_INDEX_SCHEMA}"`);
  const size = o.chunkSize;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < MIN_CHUNK || size > MAX_CHUNK || (size & (size - 1)) !== 0) {
    throw invalid(what, `chunkSize ${String(size)} is not a power of two from ${MIN_CHUNK} to ${MAX_CHUNK}`);
  }
  if (typeof o.blobs !== 'object' || o.blobs === null || Array.isArray(o.blobs)) throw invalid(what, 'blobs is not an object');
  for (const [digest, list] of Object.entries(o.blobs)) {
    if (!isSha256Digest(digest)) throw invalid(what, `key ${JSON.stringify(String(digest).slice(0, 80))} is not a sha256 digest`);
    if (!Array.isArray(list) || !list.every((h) => typeof h === 'string' && HEX64.test(h))) throw invalid(what, `the chunks of ${digest} are not a list of sha256 hex digests`);
  }
  return { schema: CHUNK_INDEX_SCHEMA, chunkSize: size, blobs: o.blobs as Record<string, string[]> };
}

/** The chunk digests of one layer, checked against its signed size; refuses a layer the index does not cover. */
export function chunksOf(index: ChunkIndex, desc: Descriptor, what: string): string[] {
  const list = Object.hasOwn(index.blobs, desc.digest) ? index.blobs[desc.digest] : undefined;
  if (list === undefined) throw invalid('chunk index', `it does not cover ${what} (${desc.digest})`);
  const want = chunkCount(desc.size, index.chunkSize);
  if (list.length !== want) throw invalid('chunk index', `${what} has ${desc.size} bytes, which is ${want} chunks, but the index lists ${list.length}`);
  return list;
}

/** The descriptor of an index blob, as pinned in the update manifest. */
export function isChunkIndexDescriptor(d: unknown): d is Descriptor {
  if (typeof d !== 'object' || d === null) return false;
  const o = d as Record<string, unknown>;
  return o.mediaType === CHUNK_INDEX_MEDIA_TYPE && isSha256Digest(o.digest) && typeof o.size === 'number' && Number.isSafeInteger(o.size) && o.size > 0 && o.size <= CHUNK_INDEX_CAP;
}
