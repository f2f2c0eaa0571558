/**
 * The writer's side of a blob read once for several writers (a campaign's sticks, see
 * media/campaign/shared-blob.ts): the read hands every writer the very same 4 MiB buffers
 * and hashes them once, off the main thread (blob digest, chunk digests, gzip scan), so a
 * writer only writes. It still checks the read's result against the descriptor before it
 * names the blob, and caps what it writes at the descriptor's size.
 */
import * as fsp from 'node:fs/promises';
import { FerryError } from '../errors.js';
import { EarlyWriteback } from '../util/writeback.js';
import { writePieces } from './blob-file-writer.js';
import type { Descriptor } from './types.js';

/** Where a shared feed rides: `stream[SHARED_FEED]` on the stream a shared source's open() returns. */
export const SHARED_FEED = Symbol('ferry.sharedFeed');

/** What the shared read measured: `digest` as `sha256:<hex>`, its byte count, chunk digests, and (gzip layers) its member scan. */
export interface PreHashed {
  digest: string;
  size: number;
  chunks: string[];
  /** Scanned gzip layers: whether a member header may start after offset 0 (unpacked-size.ts); undefined when not scanned. */
  gzipMultiMember?: boolean;
}

/** One writer's view of a shared read: the chunks in order, the same buffers for every writer. */
export interface SharedFeed {
  /** The next chunk (undefined after the last); it stays valid until `written` or `leave`. */
  next(): Promise<Buffer | undefined>;
  /** The chunk `next` gave is on this writer's file: the read may reuse its buffer once every writer is done. */
  written(): void;
  /** This writer stops (done or failed): it no longer holds the read back. Idempotent. */
  leave(): void;
  /** The read's own hash of the bytes, settled after the last chunk is written by every writer still in. */
  hashed: Promise<PreHashed>;
}

/** Write a shared feed to the new file `dest` (at most `desc.size` bytes), then check the shared hash against `desc`. No fsync. */
export async function writeFeed(feed: SharedFeed, dest: string, desc: Descriptor, what: string, onBytes?: (n: number) => void): Promise<PreHashed> {
  const out = await fsp.open(dest, 'wx', 0o644).catch((e: unknown) => {
    feed.leave();
    throw e;
  });
  // the stick's disk writes the blob while it is copied, not all of it in the fsync before its rename
  const writeback = new EarlyWriteback(out);
  try {
    let pos = 0;
    for (let chunk = await feed.next(); chunk; chunk = await feed.next()) {
      if (pos + chunk.length > desc.size) {
        throw new FerryError('SIZE_MISMATCH', `${what}: expected ${desc.size} bytes, got more: the source was altered or damaged`, { details: { expected: desc.size, actual: `more than ${desc.size}` } });
      }
      // in pieces: the page cache copy of one 4 MiB write costs far more than that of 16 smaller ones (range-copy.ts)
      await writePieces(out, chunk, chunk.length, pos);
      pos += chunk.length;
      feed.written();
      writeback.wrote(chunk.length);
      onBytes?.(chunk.length);
    }
    feed.leave();
    await writeback.settle();
    await out.close();
    const got = await feed.hashed;
    if (got.size !== desc.size) throw new FerryError('SIZE_MISMATCH', `${what}: expected ${desc.size} bytes, got ${got.size}: the source was altered or damaged`, { details: { expected: desc.size, actual: got.size } });
    if (got.digest !== desc.digest) {
      throw new FerryError('DIGEST_MISMATCH', `${what}: content does not match its digest (expected ${desc.digest}, got ${got.digest}): the source was altered or damaged`, { details: { expected: desc.digest, actual: got.digest } });
    }
    return got;
  } catch (e) {
    feed.leave();
    await writeback.settle().catch(() => undefined); // no fdatasync left running on a closed descriptor
    await out.close().catch(() => undefined);
    throw e;
  }
}
