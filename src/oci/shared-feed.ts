/**
 * The writer's side of a blob read once for several writers (a campaign's sticks, see
 * media/campaign/shared-blob.ts): the read hands every writer the very same 4 MiB buffers
 * and hashes them once, off the main thread (blob digest, chunk digests, gzip scan), so a
 * writer only writes. It still checks the read's result against the descriptor before it
 * names the blob, and caps what it writes at the descriptor's size.
 */
import { FerryError } from '../errors.js';
import { BlobFileWriter } from './blob-file-writer.js';
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

/**
 * Write a shared feed to the new file `dest` (at most `desc.size` bytes), then check the shared
 * hash against `desc`. No fsync. Written with O_DIRECT where the stick's file system takes it
 * (blob-file-writer.ts): the read's buffers are the hasher's page-aligned pool, and each stick's
 * buffered write was a copy into fresh page-cache pages on the one machine's CPU, once per stick.
 */
export async function writeFeed(feed: SharedFeed, dest: string, desc: Descriptor, what: string, onBytes?: (n: number) => void): Promise<PreHashed> {
  const out = await BlobFileWriter.create(dest, true).catch((e: unknown) => {
    feed.leave();
    throw e;
  });
  try {
    let pos = 0;
    for (let chunk = await feed.next(); chunk; chunk = await feed.next()) {
      if (pos + chunk.length > desc.size) {
        throw new FerryError('SIZE_MISMATCH', `${what}: expected ${desc.size} bytes, got more: the source was altered or damaged`, { details: { expected: desc.size, actual: `more than ${desc.size}` } });
      }
      await out.write(chunk, chunk.length, pos);
      pos += chunk.length;
      feed.written();
      onBytes?.(chunk.length);
    }
    feed.leave();
    await out.settle();
    await out.close();
    const got = await feed.hashed;
    if (got.size !== desc.size) throw new FerryError('SIZE_MISMATCH', `${what}: expected ${desc.size} bytes, got ${got.size}: the source was altered or damaged`, { details: { expected: desc.size, actual: got.size } });
    if (got.digest !== desc.digest) {
      throw new FerryError('DIGEST_MISMATCH', `${what}: content does not match its digest (expected ${desc.digest}, got ${got.digest}): the source was altered or damaged`, { details: { expected: desc.digest, actual: got.digest } });
    }
    return got;
  } catch (e) {
    feed.leave();
    await out.settle().catch(() => undefined); // no fdatasync left running on a closed descriptor
    await out.close().catch(() => undefined);
    throw e;
  }
}
