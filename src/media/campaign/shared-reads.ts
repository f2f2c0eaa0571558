/**
 * Many sticks, one read: while N exports of the same image run side by side (one per
 * stick, each through the normal exportImage and its LayoutWriter), every source blob is
 * read once, hashed once and each chunk is written to every stick that asked for it
 * (shared-blob.ts): each stick's writer only writes, and checks the read's hash against
 * the descriptor before it names the blob. The slowest stick sets the pace; a stick that
 * fails leaves the read and is dropped, the others go on.
 *
 * Which sticks want a blob is not known up front (a stick that already holds it never
 * opens it), so a blob's read starts once every live stick has either asked for it or
 * moved past it (asked for a later blob of the image, or finished). Each export asks in
 * the same order (layers, config, manifest), so no stick can wait for one behind it.
 */
import type { Readable } from 'node:stream';
import type { SourceImage } from '../../oci/source.js';
import { type BlobOrigin, SharedBlob } from './shared-blob.js';

interface Blob {
  read: SharedBlob;
  takers: Set<number>;
  started: boolean;
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
  open(id: number, index: number, origin: BlobOrigin): Readable {
    let blob = this.blobs.get(index);
    if (!blob) this.blobs.set(index, (blob = { read: new SharedBlob(origin), takers: new Set(), started: false }));
    this.at.set(id, Math.max(this.at.get(id) ?? -1, index));
    if (blob.started || blob.takers.has(id)) {
      this.reads++;
      return origin.open();
    }
    blob.takers.add(id);
    const branch = blob.read.branch();
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
      if (blob.started || blob.takers.size === 0) continue;
      if ([...this.at.values()].every((a) => a >= index)) {
        blob.started = true;
        this.reads++;
        blob.read.start();
      }
    }
  }
}

/**
 * The view of a shared source for stick `id`: every blob it opens comes from `reads`. The
 * fast paths (file range, registry chunks) are the shared read's, so each stick's copy
 * goes through the stream (and its feed) it is given. Its layers are copied one at a time
 * (`concurrency: 1`, where a registry source downloads three at once): `SharedReads` takes a
 * stick that asks for a blob as past every earlier one, which holds only when each export
 * asks in order. With three copies at once a stick could ask for layer 2 before layer 1, the
 * other stick's read of layer 1 then started without it, and it fetched layer 1 a second time
 * (the registry campaign e2e test saw 7 fetches for 6 blobs under CI load).
 */
export function sharedSourceFor(src: SourceImage, reads: SharedReads, id: number): SourceImage {
  const n = src.layers.length;
  const layers = src.layers.map((l, i) => {
    const { range, chunks, ...rest } = l;
    const origin: BlobOrigin = {
      open: l.open,
      ...(range ? { range } : {}),
      ...(chunks ? { chunks } : {}),
      ...(l.descriptor ? { size: l.descriptor.size } : {}),
      scanGzip: l.compression === 'gzip',
      what: l.what,
    };
    return { ...rest, open: () => reads.open(id, i, origin) };
  });
  const cfg = src.config;
  const config = cfg.kind === 'blob' ? { ...cfg, open: () => reads.open(id, n, { open: cfg.open, size: cfg.descriptor.size, what: 'image config' }) } : cfg;
  const orig = src.original;
  const original = orig ? { ...orig, open: () => reads.open(id, n + 1, { open: orig.open, size: orig.descriptor.size, what: 'image manifest' }) } : undefined;
  return { ...src, layers, config, ...(original ? { original } : {}), concurrency: 1 };
}
