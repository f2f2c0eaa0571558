/**
 * Headquarters' cache of chunk lists (oci/chunk-index.ts) and unpacked layer sizes
 * (oci/unpacked-size.ts), keyed by blob digest. An entry is made only when ferry computed
 * it from bytes whose digest it had just verified, so an incremental export can pin the
 * chunk digests of a layer already on the stick without reading that layer again. The cache lives on the exporting machine
 * (`$FERRY_CACHE_DIR`, else `$XDG_CACHE_HOME/ferry`, else `~/.cache/ferry`, mode 0700),
 * never on a stick: an earlier, unsigned chunk index on a stick is never trusted.
 *
 * The cache is only an accelerator: an entry that is missing, unreadable or malformed
 * counts as a miss (the layer is read again), and a failed store is ignored.
 */
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeFileAtomic } from '../util/fsx.js';
import { chunkCount, DEFAULT_CHUNK_SIZE } from './chunk-index.js';
import { type Compression, type Descriptor, digestHex, isSha256Digest } from './types.js';

const HEX64 = /^[0-9a-f]{64}$/;

/** The unpacked size of a layer blob as unpacked-size.ts found it (null: it cannot be trusted without decoding). */
export interface UnpackedFact {
  compression: Compression;
  bytes: number | null;
}

/** What is known of one blob digest. */
export interface CacheEntry {
  /** The chunk digests (hex). */
  chunks: string[];
  unpacked?: UnpackedFact;
}

/** Chunk lists (and unpacked sizes) known to belong to a blob digest. */
export interface ChunkCache {
  /** The entry of the blob `desc` in chunks of `chunkSize`, when cached and well-formed. */
  get(desc: Descriptor, chunkSize?: number): Promise<CacheEntry | undefined>;
  /** Remember `entry` for `desc`: only for facts computed from bytes verified against `desc.digest`. */
  put(desc: Descriptor, entry: CacheEntry, chunkSize?: number): Promise<void>;
}

/** Where the cache lives by default (environment first, then the XDG rules, then the home folder). */
export function defaultChunkCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FERRY_CACHE_DIR) return env.FERRY_CACHE_DIR;
  const base = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : path.join(env.HOME ?? os.homedir(), '.cache');
  return path.join(base, 'ferry');
}

/** A chunk cache in the folder `dir` (created on first store). */
export function openChunkCache(dir: string): ChunkCache {
  const fileOf = (desc: Descriptor, chunkSize: number) => path.join(dir, 'chunks', String(chunkSize), 'sha256', `${digestHex(desc.digest)}.json`);
  return {
    async get(desc, chunkSize = DEFAULT_CHUNK_SIZE) {
      if (!isSha256Digest(desc.digest)) return undefined;
      const want = chunkCount(desc.size, chunkSize);
      let text: string;
      try {
        const fh = await fsp.open(fileOf(desc, chunkSize), 'r');
        try {
          // 64 hex digits, quotes and a comma per chunk, plus the small fixed fields
          const cap = want * 67 + 512;
          const buf = Buffer.alloc(cap + 1);
          const { bytesRead } = await fh.read(buf, 0, cap + 1, 0);
          if (bytesRead > cap) return undefined;
          text = buf.toString('utf8', 0, bytesRead);
        } finally {
          await fh.close();
        }
      } catch {
        return undefined;
      }
      return parseEntry(text, desc, chunkSize, want);
    },
    async put(desc, entry, chunkSize = DEFAULT_CHUNK_SIZE) {
      if (!isSha256Digest(desc.digest) || entry.chunks.length !== chunkCount(desc.size, chunkSize)) return;
      const file = fileOf(desc, chunkSize);
      try {
        await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
        await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
        await writeFileAtomic(file, JSON.stringify({ digest: desc.digest, size: desc.size, chunkSize, ...entry }), 0o600);
      } catch {
        // a read-only or full cache folder costs a re-read next time, nothing else
      }
    },
  };
}

function parseEntry(text: string, desc: Descriptor, chunkSize: number, want: number): CacheEntry | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (o.digest !== desc.digest || o.size !== desc.size || o.chunkSize !== chunkSize) return undefined;
  const list = o.chunks;
  if (!Array.isArray(list) || list.length !== want || !list.every((h) => typeof h === 'string' && HEX64.test(h))) return undefined;
  const unpacked = parseUnpacked(o.unpacked);
  return { chunks: list as string[], ...(unpacked ? { unpacked } : {}) };
}

function parseUnpacked(v: unknown): UnpackedFact | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const { compression, bytes } = v as Record<string, unknown>;
  if (compression !== 'gzip' && compression !== 'zstd' && compression !== 'none') return undefined;
  if (bytes !== null && !(typeof bytes === 'number' && Number.isSafeInteger(bytes) && bytes >= 0)) return undefined;
  return { compression, bytes };
}

/**
 * What one writer knows of the blobs it handled (chunk lists, unpacked sizes), backed by a
 * ChunkCache when there is one. Facts enter only from bytes verified against their digest.
 */
export class BlobFacts {
  private readonly chunkLists = new Map<string, string[]>();
  private readonly unpacked = new Map<string, UnpackedFact>();
  /** Digests whose cache entry already says all that is known here (no rewrite needed). */
  private readonly stored = new Set<string>();
  cache?: ChunkCache;

  /** The chunk list of `desc`, when known here. */
  chunks(desc: Descriptor): string[] | undefined {
    return this.chunkLists.get(desc.digest);
  }

  /** The unpacked size of `desc` as `compression`, when known here (null: not trusted). */
  unpackedOf(desc: Descriptor, compression: Compression): number | null | undefined {
    const f = this.unpacked.get(desc.digest);
    return f?.compression === compression ? f.bytes : undefined;
  }

  /** The chunk list of `desc`, known here or loaded from the cache (with its unpacked size); undefined on a miss. */
  async knownChunks(desc: Descriptor): Promise<string[] | undefined> {
    const here = this.chunkLists.get(desc.digest);
    if (here) return here;
    const e = await this.cache?.get(desc);
    if (!e) return undefined;
    this.chunkLists.set(desc.digest, e.chunks);
    if (e.unpacked && !this.unpacked.has(desc.digest)) this.unpacked.set(desc.digest, e.unpacked);
    if (e.unpacked) this.stored.add(desc.digest);
    return e.chunks;
  }

  /** Record facts of `desc`, computed from its verified bytes. */
  record(desc: Descriptor, facts: { chunks?: string[]; unpacked?: UnpackedFact }): void {
    if (facts.chunks) this.chunkLists.set(desc.digest, facts.chunks);
    if (facts.unpacked) this.unpacked.set(desc.digest, facts.unpacked);
    this.stored.delete(desc.digest);
  }

  /** Store what is known of the layer `desc` in the cache (only layers: nothing else needs chunk lists). */
  async persist(desc: Descriptor): Promise<void> {
    const chunks = this.chunkLists.get(desc.digest);
    const unpacked = this.unpacked.get(desc.digest);
    if (!chunks || !this.cache || this.stored.has(desc.digest)) return;
    await this.cache.put(desc, { chunks, ...(unpacked ? { unpacked } : {}) });
    this.stored.add(desc.digest);
  }
}
