/**
 * Writing an OCI image layout (image-spec image-layout.md) crash-safely: each blob is
 * hashed while it streams to a temp name, fsynced, checked, renamed to its digest and
 * its directory fsynced; index.json is rewritten atomically LAST, so a crash at any
 * point leaves a layout that either lacks the new image or has all of it.
 */
import { createReadStream, createWriteStream, mkdirSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FerryError, toFerryError } from '../errors.js';
import type { ProgressFn } from '../progress.js';
import { removeStaleTemps, syncFile, syncRenamed, tempNameFor, writeFileAtomic } from '../util/fsx.js';
import { BlobFacts, type ChunkCache } from './chunk-cache.js';
import { ChunkHasher, DEFAULT_CHUNK_SIZE } from './chunk-index.js';
import { ChunkDigester } from './chunk-hasher-parallel.js';
import { DigestComputer, DigestVerifier, sha256Digest } from './digest.js';
import { faultPoint } from './fault.js';
import { blobRel, directoryBackend, OciLayout } from './layout.js';
import { type ChunkSource, copyRangeVerified, copyVerified, type FileRange } from './range-copy.js';
import { SHARED_FEED, type SharedFeed, writeFeed } from './shared-feed.js';
import { ByteCounter, gzipUnpackedFromScan, unpackedSizeOfBlob } from './unpacked-size.js';
import { Annotation, type Compression, type Descriptor, type ImageIndex, MediaType } from './types.js';

const CHUNK = 1024 * 1024;
/**
 * The copy's buffers: 8 of 512 KiB (pieces of the 4 MiB chunks), enough to keep a read, a write
 * and the hashing busy. Each is fresh memory once per process, and a page fault costs 25-50 µs
 * on the bench VM: 6 buffers of a whole chunk (24 MiB) cost ~6,000 faults per export, 8 of
 * 1 MiB 2,000, these 1,000 (the extra pieces cost less: a read and a write more per MiB).
 */
const COPY_BUFFERS = 8;
const COPY_PIECE = CHUNK / 2;
/**
 * A blob copied from a file that spans more than one chunk is hashed on two threads: its chunk
 * digests on the hashing worker, its whole digest here (ChunkDigester `split`). Both digests are
 * SHA-256 over every byte (issue 9 needs the chunk list, the layout the blob digest), ~140 ms per
 * 155 MiB each on the bench VM; one thread doing both was the copy's pace, two cores halve it.
 * Fresh ext4 per run, 256 MiB oci-archive (3 layers), medians of 4 alternating rounds, same hour:
 * both here 575 ms, split 452 ms; 1 GiB (5 layers): both here 2.05 s, both on the worker 1.66 s,
 * split 1.44 s. Export starts the worker with the command (warmChunkHasher), so it is up before the
 * first chunk. A blob of one chunk or less is hashed here: a round trip costs more than its hash.
 */
const SPLIT_ABOVE = DEFAULT_CHUNK_SIZE;

/** A byte tally that reports `write-blob` progress at most every 4 MiB (undefined without `progress`). */
function progressTally(progress: ProgressFn | undefined, total: number, detail: string): ((n: number) => void) | undefined {
  if (!progress) return undefined;
  let bytes = 0;
  let last = 0;
  return (n) => {
    bytes += n;
    if (bytes - last >= 4 * CHUNK) {
      last = bytes;
      progress({ step: 'write-blob', bytesDone: bytes, bytesTotal: total, detail });
    }
  };
}

/** Feeds every byte that passes to a ChunkHasher (the chunk index is computed in the same read as the copy). */
class ChunkTap extends Transform {
  constructor(readonly hasher: ChunkHasher) {
    super({ highWaterMark: CHUNK });
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hasher.update(chunk);
    cb(null, chunk);
  }
}

/** The `oci-layout` file and the empty `index.json` of a fresh layout (also written by the Ctrl-C handler, media/lock.ts). */
export const LAYOUT_MARKER = JSON.stringify({ imageLayoutVersion: '1.0.0' });
export const EMPTY_INDEX = JSON.stringify({ schemaVersion: 2, mediaType: MediaType.imageIndex, manifests: [] }, null, 2) + '\n';

/** Options of the blob writes. */
export interface BlobWriteOptions {
  /** Re-hash a blob already present instead of trusting its name and size. */
  verifyExisting?: boolean;
  /** The blob's chunk digests will be asked for (a signed export's chunk index): a present blob is re-read unless they are known. */
  needChunks?: boolean;
  /** A gzip layer copied from a file range: look for member headers in the same read (for unpackedSize). */
  scanGzip?: boolean;
  /**
   * Sync and name the blob in the background, as copied layers are (the caller flushes before
   * anything names it): the small blobs of an export then share their fsyncs' wait with the
   * layers' instead of queueing one after another behind them.
   */
  background?: boolean;
  progress?: ProgressFn;
}

/** Result of writing one blob. */
export interface BlobWrite {
  descriptor: Descriptor;
  /** False when an identical blob was already present. */
  written: boolean;
}

/** Writer for one OCI layout directory. */
export class LayoutWriter {
  private blobsWritten = 0;
  /** Chunk digests and unpacked sizes of the blobs this writer handled (computed while they streamed, or from HQ's cache). */
  readonly facts = new BlobFacts();
  /** Told the final path of every blob this writer creates (the HQ lock's journal, to undo a failed run). */
  onWrite?: (file: string) => void;
  /** Blobs found damaged on the media (re-hashed with verifyExisting) and written again. */
  readonly repaired: string[] = [];
  /** HQ's cache of chunk lists computed from verified bytes (oci/chunk-cache.ts): a layer already present is not re-read for them. */
  set chunkCache(cache: ChunkCache | undefined) {
    if (cache) this.facts.cache = cache;
    else delete this.facts.cache;
  }

  /** Blobs copied but not yet synced and named (digest → that work): see writeBlobFromRange. */
  private readonly commits = new Map<string, Promise<void>>();
  private commitFailure: unknown;

  private constructor(readonly root: string) {}

  /** Create (or reuse) a layout at `root`: oci-layout, blobs/sha256; stale temp files are removed. */
  static async create(root: string): Promise<LayoutWriter> {
    const blobs = path.join(root, 'blobs', 'sha256');
    // synchronous: a Ctrl-C handler (media/lock.ts cancelSync) never races a half-made folder tree
    mkdirSync(blobs, { recursive: true });
    const marker = path.join(root, 'oci-layout');
    try {
      await fsp.access(marker);
    } catch {
      await writeFileAtomic(marker, LAYOUT_MARKER);
    }
    const w = new LayoutWriter(root);
    await w.removeStaleTemps();
    // a fresh layout gets an empty index.json at once: valid for skopeo and umoci at every moment
    const index = path.join(root, 'index.json');
    if (!(await fsp.access(index).then(() => true, () => false))) await writeFileAtomic(index, EMPTY_INDEX);
    return w;
  }

  /** Delete `.ferry-tmp-*` files left by a run that died (only ferry creates such names). */
  async removeStaleTemps(): Promise<number> {
    return (await removeStaleTemps(this.root)) + (await removeStaleTemps(path.join(this.root, 'blobs', 'sha256')));
  }

  /** A fresh temp name beside the blobs (removed as stale by the next run if this one dies). */
  private blobTemp(): string {
    return tempNameFor(path.join(this.root, 'blobs', 'sha256', 'blob'));
  }

  /** Final path of a blob. */
  blobPath(digest: string): string {
    return path.join(this.root, blobRel(digest));
  }

  /** Size of a present blob, or undefined. */
  async existingSize(digest: string): Promise<number | undefined> {
    return directoryBackend(this.root).size(blobRel(digest));
  }

  /**
   * True when the blob is present with the right size (and, with `rehash`, the right content).
   * With `needChunks`, its chunk digests must be known afterwards: from this writer, from the
   * chunk cache, or else from re-reading it (which also checks its content).
   */
  async hasGoodBlob(desc: Descriptor, rehash: boolean, needChunks = false): Promise<boolean> {
    await this.commits.get(desc.digest);
    if ((await this.existingSize(desc.digest)) !== desc.size) return false;
    if (!rehash && !needChunks) return true;
    if (!rehash && (await this.facts.knownChunks(desc))) return true;
    try {
      await this.rehash(desc);
    } catch {
      this.repaired.push(desc.digest); // the caller writes it again: say so
      return false;
    }
    return true;
  }

  /** Read a present blob once, digest-checked, and keep its chunk digests from that read. */
  private async rehash(desc: Descriptor): Promise<string[]> {
    const chunker = new ChunkHasher();
    await pipeline(createReadStream(this.blobPath(desc.digest), { highWaterMark: 4 * CHUNK }), new DigestVerifier(desc.digest, desc.size, `blob ${desc.digest}`), new ChunkTap(chunker), async (s: AsyncIterable<Buffer>) => {
      for await (const _ of s);
    });
    const chunks = chunker.finish();
    this.facts.record(desc, { chunks });
    return chunks;
  }

  /**
   * The unpacked size of a layer blob in this layout (unpacked-size.ts): known from its
   * copy or from the cache, else read cheaply from the blob (and remembered).
   */
  async unpackedSize(desc: Descriptor, compression: Compression): Promise<number | undefined> {
    let bytes = compression === 'none' ? desc.size : this.facts.unpackedOf(desc, compression);
    if (bytes === undefined) {
      await this.commits.get(desc.digest); // read it under its final name
      bytes = (await unpackedSizeOfBlob(this.blobPath(desc.digest), compression)) ?? null;
      this.facts.record(desc, { unpacked: { compression, bytes } });
    }
    return bytes ?? undefined;
  }

  /**
   * Stream `src` to a temp file through `stages`, fsync it, and return the temp path
   * with the digest and size of what was written. The temp file is removed on failure.
   */
  private async streamToTemp(src: Readable, stages: Transform[], what: string, progress?: ProgressFn, total?: number): Promise<{ tmp: string; digest: string; size: number; chunks: string[] }>;
  private async streamToTemp(src: Readable, stages: Transform[], what: string, progress: ProgressFn | undefined, total: number, hashOutput: false, sync: boolean): Promise<{ tmp: string; chunks: string[] }>;
  private async streamToTemp(src: Readable, stages: Transform[], what: string, progress?: ProgressFn, total = 0, hashOutput = true, sync = true): Promise<{ tmp: string; digest?: string; size?: number; chunks: string[] }> {
    const tmp = this.blobTemp();
    // a known-digest write is already checked by the DigestVerifier among `stages`: no second hash
    const hash = hashOutput ? new DigestComputer() : undefined;
    const tally = progressTally(progress, total, what);
    let chunks = (): string[] => [];
    try {
      const chunker = new ChunkHasher();
      const chain: NodeJS.ReadWriteStream[] = hash ? [...stages, hash, new ChunkTap(chunker)] : [...stages, new ChunkTap(chunker)];
      if (tally) chain.push(new ByteCounter(tally));
      chunks = () => chunker.finish();
      // without `sync` the caller syncs the temp file (commitLater) before it names it
      await pipeline([src, ...chain, createWriteStream(tmp, { flags: 'wx', flush: sync, highWaterMark: CHUNK })]);
    } catch (e) {
      await fsp.rm(tmp, { force: true });
      throw e instanceof FerryError ? e : toFerryError(e, what);
    }
    if (sync) faultPoint(this.blobsWritten === 0 ? 'after-first-blob-temp' : 'never');
    return hash ? { tmp, digest: hash.digest, size: hash.bytes, chunks: chunks() } : { tmp, chunks: chunks() };
  }

  private async commitTemp(tmp: string, digest: string): Promise<void> {
    // told before the rename: a Ctrl-C handled between the rename and its callback must still
    // remove the blob (cancelSync removes what it was told of, whether or not it exists yet)
    this.onWrite?.(this.blobPath(digest));
    await fsp.rename(tmp, this.blobPath(digest));
    await syncRenamed(this.blobPath(digest));
    if (this.blobsWritten++ === 0) faultPoint('after-first-blob-rename');
  }

  /**
   * Write a blob whose descriptor is known: skipped when already present (re-hashed
   * first with `verifyExisting`, and replaced if damaged); otherwise the bytes are
   * verified against the descriptor before the blob gets its final name.
   */
  async writeBlob(desc: Descriptor, open: () => Readable, opts: BlobWriteOptions = {}): Promise<BlobWrite> {
    if (await this.hasGoodBlob(desc, opts.verifyExisting ?? false, opts.needChunks)) return { descriptor: desc, written: false };
    const what = `blob ${desc.digest}`;
    const src = open();
    const feed = (src as Readable & { [SHARED_FEED]?: SharedFeed })[SHARED_FEED];
    if (feed) return this.writeShared(src, feed, desc, what, opts.progress);
    const background = opts.background ?? false;
    const { tmp, chunks } = await this.streamToTemp(src, [new DigestVerifier(desc.digest, desc.size, what)], what, opts.progress, desc.size, false, !background);
    this.facts.record(desc, { chunks });
    if (background) this.commitLater(tmp, desc.digest, what);
    else await this.commitTemp(tmp, desc.digest);
    return { descriptor: desc, written: true };
  }

  /** Write a blob from a shared read (only writes here: the read hashed it once for every writer), checked against `desc`; synced and named in the background. */
  private async writeShared(src: Readable, feed: SharedFeed, desc: Descriptor, what: string, progress?: ProgressFn): Promise<BlobWrite> {
    const tmp = this.blobTemp();
    try {
      const got = await writeFeed(feed, tmp, desc, what, progressTally(progress, desc.size, what));
      this.facts.record(desc, { chunks: got.chunks });
      if (got.gzipMultiMember !== undefined) this.facts.record(desc, { unpacked: { compression: 'gzip', bytes: (await gzipUnpackedFromScan(tmp, desc.size, got.gzipMultiMember)) ?? null } });
    } catch (e) {
      await fsp.rm(tmp, { force: true });
      throw e instanceof FerryError ? e : toFerryError(e, what);
    } finally {
      src.destroy(); // its bytes were taken from the feed, not through the stream
    }
    this.commitLater(tmp, desc.digest, what);
    return { descriptor: desc, written: true };
  }

  /**
   * Write a blob whose bytes are a byte range of a file (fast path; same checks and crash safety
   * as writeBlob), with O_DIRECT where the file system allows (blob-file-writer.ts): the source is
   * in the page cache already, and a buffered write's copy into fresh page-cache pages was most of
   * an export's system time. 256 MiB oci-archive onto a fresh ext4 with a journal (loop device,
   * 4 rounds alternating, idle): buffered 1.12-1.29 s (system 0.79-0.87 s), direct 0.55-0.65 s
   * (system 0.13-0.19 s); skopeo copy ~1.0 s.
   */
  async writeBlobFromRange(desc: Descriptor, range: FileRange, opts: BlobWriteOptions = {}): Promise<BlobWrite> {
    return this.writeBlobCopied(desc, opts, { buffers: COPY_BUFFERS, piece: COPY_PIECE, thread: desc.size > SPLIT_ABOVE ? 'split' : 'here' }, (tmp, chunker, what) => copyRangeVerified(range, tmp, desc, what, chunker, progressTally(opts.progress, desc.size, what), false, true));
  }

  /** Write a blob whose bytes a ChunkSource reads into the copy's buffers (a registry download; same checks and crash safety). */
  async writeBlobFromChunks(desc: Descriptor, open: () => ChunkSource, opts: BlobWriteOptions = {}): Promise<BlobWrite> {
    // both digests on the hashing worker: this thread reads the sockets (each read is a kernel
    // copy here), and a hash here paused them (a 612 MiB layer took 1.6x as long to download)
    // written with O_DIRECT (blob-file-writer.ts): fresh page-cache pages cost more than the download;
    // 4 buffers (one filling, three writing or hashing), as three layers download at once: each
    // fresh 4 MiB buffer costs 1,024 page faults (6 per blob: 28,000 faults an export, 4: 20,000)
    return this.writeBlobCopied(desc, opts, { buffers: 4, piece: DEFAULT_CHUNK_SIZE, thread: 'worker' }, (tmp, chunker, what) => copyVerified(open(), tmp, desc, what, chunker, progressTally(opts.progress, desc.size, what), false, true));
  }

  private async writeBlobCopied(desc: Descriptor, opts: BlobWriteOptions, pool: { buffers: number; piece: number; thread: 'worker' | 'here' | 'split' }, copy: (tmp: string, chunker: ChunkDigester, what: string) => Promise<void>): Promise<BlobWrite> {
    if (await this.hasGoodBlob(desc, opts.verifyExisting ?? false, opts.needChunks)) return { descriptor: desc, written: false };
    const what = `blob ${desc.digest}`;
    const tmp = this.blobTemp();
    // chunk digests (and the gzip scan for the unpacked size) and the whole-blob digest, while the bytes are written
    const chunker = new ChunkDigester(DEFAULT_CHUNK_SIZE, pool.buffers, opts.scanGzip ?? false, true, true, pool.piece, pool.thread);
    let chunks: string[];
    try {
      await copy(tmp, chunker, what);
      chunks = await chunker.finish();
      const multi = chunker.maybeMultiMember();
      if (multi !== undefined) this.facts.record(desc, { unpacked: { compression: 'gzip', bytes: (await gzipUnpackedFromScan(tmp, desc.size, multi)) ?? null } });
    } catch (e) {
      await fsp.rm(tmp, { force: true });
      throw e instanceof FerryError ? e : toFerryError(e, what);
    }
    this.facts.record(desc, { chunks });
    this.commitLater(tmp, desc.digest, what);
    return { descriptor: desc, written: true };
  }

  /**
   * fsync (the slow part on a stick) and rename in the background while the next blob is
   * copied; flush() waits for them, and addToIndex flushes first: index.json never names
   * an image before every blob of it is synced under its final name.
   */
  private commitLater(tmp: string, digest: string, what: string): void {
    this.defer(digest, (async () => {
      try {
        await syncFile(tmp);
        faultPoint(this.blobsWritten === 0 ? 'after-first-blob-temp' : 'never');
        await this.commitTemp(tmp, digest);
      } catch (e) {
        await fsp.rm(tmp, { force: true });
        throw toFerryError(e, what);
      }
    })());
  }

  private defer(digest: string, work: Promise<void>): void {
    const done = (): void => void this.commits.delete(digest);
    this.commits.set(digest, work.then(done, (e: unknown) => {
      done();
      this.commitFailure ??= e;
    }));
  }

  /** Wait until every blob copied so far is synced and named; throws the first failure. */
  async flush(): Promise<void> {
    while (this.commits.size > 0) await Promise.all([...this.commits.values()]);
    if (this.commitFailure !== undefined) throw this.commitFailure;
  }

  /** After a failed run: wait for the background work, so that nothing is named after the run's undo. */
  async settle(): Promise<void> {
    await this.flush().catch(() => undefined);
  }

  /** Write a blob produced by a stream (digest unknown up front). */
  async writeStream(src: Readable, stages: Transform[], mediaType: string, what: string, progress?: ProgressFn, total = 0): Promise<BlobWrite> {
    const { tmp, digest, size, chunks } = await this.streamToTemp(src, stages, what, progress, total);
    const descriptor: Descriptor = { mediaType, digest, size };
    this.facts.record(descriptor, { chunks });
    if ((await this.existingSize(digest)) === size) {
      await fsp.rm(tmp, { force: true });
      return { descriptor, written: false };
    }
    await this.commitTemp(tmp, digest);
    return { descriptor, written: true };
  }

  /**
   * The chunk digests of a blob in this layout: remembered when this writer streamed it,
   * else computed by reading the blob once, digest-checked (a blob that an earlier export put there).
   */
  async chunksOf(desc: Descriptor): Promise<string[]> {
    // known from the copy (or the cache): no need to wait for the blob's sync in the background
    const known = await this.facts.knownChunks(desc);
    if (known) return known;
    await this.commits.get(desc.digest); // re-read it under its final name
    return (await this.facts.knownChunks(desc)) ?? this.rehash(desc);
  }

  /** Write a small in-memory blob (config, manifest). */
  async writeBytes(bytes: Buffer, mediaType: string, opts: BlobWriteOptions = {}): Promise<BlobWrite> {
    const desc: Descriptor = { mediaType, digest: sha256Digest(bytes), size: bytes.length };
    return this.writeBlob(desc, () => Readable.from([bytes]), opts);
  }

  /** The current index (empty when the layout has none yet). */
  async readIndex(): Promise<ImageIndex> {
    try {
      await fsp.access(path.join(this.root, 'index.json'));
    } catch {
      return { schemaVersion: 2, mediaType: MediaType.imageIndex, manifests: [] };
    }
    return (await OciLayout.open(this.root)).readIndex();
  }

  /**
   * Add manifests to index.json, replacing entries with the same ref name; written
   * atomically (temp, fsync, rename, fsync dir) and only after every blob is in place.
   */
  async addToIndex(entries: Descriptor[], onNamed?: () => void): Promise<void> {
    await this.flush();
    faultPoint('before-index');
    const index = await this.readIndex();
    const refs = new Set(entries.map((d) => d.annotations?.[Annotation.refName]).filter((r) => r !== undefined));
    const kept = index.manifests.filter((d) => !refs.has(d.annotations?.[Annotation.refName] ?? '\0'));
    const next: ImageIndex = { schemaVersion: 2, mediaType: MediaType.imageIndex, manifests: [...kept, ...entries] };
    if (index.annotations) next.annotations = index.annotations;
    await writeFileAtomic(path.join(this.root, 'index.json'), JSON.stringify(next, null, 2) + '\n', 0o644, onNamed);
  }

  /** Drop the entry named `ref` from index.json (atomic rewrite), e.g. to undo a failed export. */
  async removeFromIndex(ref: string): Promise<void> {
    const index = await this.readIndex();
    const next: ImageIndex = { ...index, manifests: index.manifests.filter((d) => d.annotations?.[Annotation.refName] !== ref) };
    await writeFileAtomic(path.join(this.root, 'index.json'), JSON.stringify(next, null, 2) + '\n');
  }
}
