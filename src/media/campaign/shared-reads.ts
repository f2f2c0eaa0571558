/**
 * Many sticks, one read: while N exports of the same image run side by side (one per
 * stick, each through the normal exportImage and its LayoutWriter), every source blob is
 * read once and each chunk is handed to every stick that asked for it. The read hashes the
 * bytes once (whole digest and chunk digests) and each branch carries that result
 * (PRE_HASHED): every stick gets the very same buffers, so N hashes of them would prove
 * nothing more, and each LayoutWriter still checks the result against the descriptor
 * before it names the blob. The slowest stick sets the pace (a chunk goes on only
 * when every branch has room: memory stays at about one buffer per stick); a stick that
 * fails closes its branch and is dropped, the others go on.
 *
 * Which sticks want a blob is not known up front (a stick that already holds it never
 * opens it), so a blob's read starts once every live stick has either asked for it or
 * moved past it (asked for a later blob of the image, or finished). Each export asks in
 * the same order (layers, config, manifest), so no stick can wait for one behind it.
 */
import { createHash } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import { PRE_HASHED, type PreHashed } from '../../oci/blob-store.js';
import { ChunkHasher } from '../../oci/chunk-index.js';
import { DigestVerifier } from '../../oci/digest.js';
import type { SourceImage } from '../../oci/source.js';

/** Room each stick's branch has before the read waits for it. */
const BRANCH_BUFFER = 1024 * 1024;

interface Blob {
  open: () => Readable;
  branches: Map<number, PassThrough>;
  started: boolean;
  /** The read's own hash of the bytes, settled when the read ends (before the branches end). */
  hashed: Promise<PreHashed>;
  settle: { resolve: (h: PreHashed) => void; reject: (e: unknown) => void };
}

function newBlob(open: () => Readable): Blob {
  let settle!: Blob['settle'];
  const hashed = new Promise<PreHashed>((resolve, reject) => (settle = { resolve, reject }));
  hashed.catch(() => undefined); // a read nobody waits for any more must not be an unhandled rejection
  return { open, branches: new Map(), started: false, hashed, settle };
}

/** One image's shared reads among the sticks `ids`. */
export class SharedReads {
  /** The last blob index each stick asked for (Infinity once it is done with the image). */
  private readonly at = new Map<number, number>();
  private readonly blobs = new Map<number, Blob>();
  /** How many source reads were started (one per blob that any stick wanted; more only for a retry). */
  reads = 0;

  constructor(ids: readonly number[]) {
    for (const id of ids) this.at.set(id, -1);
  }

  /** Stick `id` asks for blob `index`: a branch of the shared read, or its own read when that one has begun already (a retry). */
  open(id: number, index: number, open: () => Readable): Readable {
    let blob = this.blobs.get(index);
    if (!blob) this.blobs.set(index, (blob = newBlob(open)));
    this.at.set(id, Math.max(this.at.get(id) ?? -1, index));
    if (blob.started || blob.branches.has(id)) {
      this.reads++;
      return open();
    }
    const branch = Object.assign(new PassThrough({ highWaterMark: BRANCH_BUFFER }), { [PRE_HASHED]: blob.hashed });
    blob.branches.set(id, branch);
    this.startReady();
    return branch;
  }

  /** Stick `id` is done with this image (exported, skipped or failed): no blob waits for it any more. */
  done(id: number): void {
    this.at.set(id, Infinity);
    this.startReady();
  }

  private startReady(): void {
    for (const [index, blob] of this.blobs) {
      if (blob.started || blob.branches.size === 0) continue;
      if ([...this.at.values()].every((a) => a >= index)) {
        blob.started = true;
        this.reads++;
        pump(blob.open(), [...blob.branches.values()], blob.settle);
      }
    }
  }
}

/** Copy `src` into every branch, hashing it once; wait for the slowest; a closed branch is dropped; no branch left ends the read. */
function pump(src: Readable, branches: PassThrough[], settle: Blob['settle']): void {
  // a source that checks its own digest (a layout's openBlob) ends only when it matched: no second whole hash
  const checked = src instanceof DigestVerifier && src.expectedSize >= 0 ? src : undefined;
  const whole = checked ? undefined : createHash('sha256');
  const chunks = new ChunkHasher();
  let size = 0;
  const live = new Set(branches);
  let waiting = new Set<PassThrough>();
  const resumeIfDrained = () => {
    if (waiting.size === 0 && src.isPaused()) src.resume();
  };
  for (const b of branches) {
    b.on('drain', () => (waiting.delete(b), resumeIfDrained()));
    b.on('close', () => {
      if (!live.delete(b)) return;
      waiting.delete(b);
      if (live.size === 0) src.destroy();
      else resumeIfDrained();
    });
  }
  src.on('data', (chunk: Buffer) => {
    whole?.update(chunk);
    chunks.update(chunk);
    size += chunk.length;
    const full = new Set<PassThrough>();
    for (const b of live) if (!b.destroyed && !b.write(chunk)) full.add(b);
    waiting = full;
    if (full.size > 0) src.pause();
  });
  src.on('end', () => {
    settle.resolve({ digest: whole ? `sha256:${whole.digest('hex')}` : checked!.expectedDigest, size, chunks: chunks.finish() });
    for (const b of live) b.end();
  });
  src.on('error', (e) => {
    settle.reject(e);
    for (const b of live) b.destroy(e);
  });
}

/**
 * The view of a shared source for stick `id`: every blob it opens comes from `reads`. The
 * file-range fast path is left out, so every stick's copy goes through the stream it is given.
 */
export function sharedSourceFor(src: SourceImage, reads: SharedReads, id: number): SourceImage {
  const n = src.layers.length;
  const layers = src.layers.map((l, i) => {
    const { range: _range, ...rest } = l;
    return { ...rest, open: () => reads.open(id, i, l.open) };
  });
  const config = src.config.kind === 'blob' ? { ...src.config, open: () => reads.open(id, n, (src.config as { open(): Readable }).open) } : src.config;
  const original = src.original ? { ...src.original, open: () => reads.open(id, n + 1, src.original!.open) } : undefined;
  return { ...src, layers, config, ...(original ? { original } : {}) };
}
