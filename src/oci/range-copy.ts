/**
 * The fast path of a verified blob copy: when the source bytes are a plain byte range of
 * a file (a blob in a layout directory, a member of an oci-archive or docker-archive),
 * copy them with positioned reads of 512 KiB pieces (the digester's buffers), the next read in
 * flight while the current piece is hashed and written: about twice the speed of a stream
 * pipeline. The chunk digests of the chunk index come from the same read.
 */
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { FerryError } from '../errors.js';
import { openRegular } from '../util/fsx.js';
import { BlobFileWriter } from './blob-file-writer.js';
import type { ChunkDigester } from './chunk-hasher-parallel.js';
import { digestHex, type Descriptor } from './types.js';

/** Where a blob's bytes sit: `size` bytes of `file` starting at `start`. */
export interface FileRange {
  file: string;
  start: number;
  size: number;
  /** The file lies on media below this folder: it is opened as fsx.openRegular's `under` (no links, no special files). */
  under?: string;
}

/** A blob's bytes in order, read into the caller's buffers: a file range, or a registry download (registry/blob-fetch.ts). */
export interface ChunkSource {
  /** Fill `buf[0, len)` with the next `len` bytes; throws when the source ends early or fails. */
  read(buf: Buffer, len: number): Promise<void>;
  close(): Promise<void>;
}

/** The bytes of a file range as a ChunkSource (positioned reads). */
export async function fileChunkSource(range: FileRange, what: string): Promise<ChunkSource> {
  const src = (await openRegular(range.file, what, { media: true, ...(range.under !== undefined ? { under: range.under } : {}) })).fh;
  let off = 0;
  return {
    async read(buf, len) {
      for (let got = 0; got < len; ) {
        const { bytesRead } = await src.read(buf, got, len - got, range.start + off + got);
        if (bytesRead === 0) throw new FerryError('CORRUPT_ARCHIVE', `${what}: the source ended after ${off + got} of ${range.size} bytes`);
        got += bytesRead;
      }
      off += len;
    },
    close: () => src.close(),
  };
}

/**
 * Copy `range` to the new file `dest` (created exclusively), checking size and sha256
 * against `desc`, and fsync it (unless `fsync` is false): copyVerified over the file's bytes (`direct`: O_DIRECT where allowed).
 */
export async function copyRangeVerified(range: FileRange, dest: string, desc: Descriptor, what: string, chunks: ChunkDigester, onBytes?: (n: number) => void, fsync = true, direct = false): Promise<void> {
  if (range.size !== desc.size) {
    throw new FerryError('SIZE_MISMATCH', `${what}: expected ${desc.size} bytes, the source holds ${range.size}: the source was altered or damaged`, { details: { expected: desc.size, actual: range.size } });
  }
  await copyVerified(await fileChunkSource(range, what), dest, desc, what, chunks, onBytes, fsync, direct);
}

/**
 * Copy `desc.size` bytes of `source` to the new file `dest` (created exclusively), checking
 * sha256 against `desc`, and fsync it (unless `fsync` is false); `direct`: written with O_DIRECT
 * where the file system allows (blob-file-writer.ts). Each piece (`chunks.pieceSize`) is read
 * into a buffer of `chunks` (the next read in flight while the current piece is hashed and
 * written), and handed to `chunks` for the chunk digests and the whole digest while it is
 * written. `dest` is removed again on any failure; `source` is closed.
 */
export async function copyVerified(source: ChunkSource, dest: string, desc: Descriptor, what: string, chunks: ChunkDigester, onBytes?: (n: number) => void, fsync = true, direct = false): Promise<void> {
  const size = desc.size;
  let out: BlobFileWriter;
  try {
    out = await BlobFileWriter.create(dest, direct);
  } catch (e) {
    await source.close();
    throw e;
  }
  try {
    // the whole digest on the digester's thread where it offers one, else here
    const hash = chunks.whole ? undefined : createHash('sha256');
    // a piece of a chunk per buffer (a chunk is several pieces; the digester keeps them apart)
    const step = chunks.pieceSize;
    const readChunk = async (off: number): Promise<{ buf: Buffer; len: number; end: number }> => {
      const buf = await chunks.acquire();
      const len = Math.min(step, size - off);
      try {
        await source.read(buf, len);
      } catch (e) {
        chunks.release(buf);
        throw e;
      }
      return { buf, len, end: off + len };
    };
    let writing: Promise<void> = Promise.resolve();
    let writeError: unknown;
    let next = size > 0 ? readChunk(0) : undefined;
    for (let off = 0; next; ) {
      const cur = await next;
      if (writeError !== undefined) {
        chunks.release(cur.buf);
        break; // thrown below by `await writing`
      }
      const pos = off;
      off += cur.len;
      next = off < size ? readChunk(off) : undefined;
      next?.catch(() => undefined); // awaited next round; an error here must not go unhandled meanwhile
      hash?.update(cur.buf.subarray(0, cur.len));
      // direct writes start at once, side by side (each waits for the disk); buffered ones in order
      const early = out.direct ? out.write(cur.buf, cur.len, pos) : undefined;
      early?.catch(() => undefined); // awaited below
      const before = writing;
      writing = (async () => {
        let failure: unknown;
        await before.catch((e: unknown) => (failure = e)); // buffered writes stay in order
        // a write still running reads the buffer: it settles before this does (and the buffer goes back)
        await (early ?? (failure === undefined ? out.write(cur.buf, cur.len, pos) : undefined))?.catch((e: unknown) => (failure ??= e));
        if (failure !== undefined) throw failure;
        onBytes?.(cur.len);
      })();
      writing.catch((e: unknown) => (writeError ??= e));
      // hashed while it is written (the same bytes: nothing changes the buffer until both are
      // done, then it goes back to the pool), in order; every buffer goes back even on failure
      chunks.submit(cur.buf, cur.len, cur.end === size, writing);
    }
    if (next) chunks.release((await next).buf);
    await writing;
    const actual = hash ? hash.digest('hex') : await chunks.wholeDigest();
    if (actual !== digestHex(desc.digest)) {
      throw new FerryError('DIGEST_MISMATCH', `${what}: content does not match its digest (expected ${desc.digest}, got sha256:${actual}): the source was altered or damaged`, {
        details: { expected: desc.digest, actual: `sha256:${actual}` },
      });
    }
    await out.settle();
    if (fsync) await out.sync(); // else the caller syncs `dest` before it names it
  } catch (e) {
    await out.settle().catch(() => undefined); // no fdatasync left running on a closed descriptor
    if (chunks.whole) await chunks.wholeDigest().catch(() => undefined); // the worker forgets this blob
    await out.close().catch(() => undefined);
    await fsp.rm(dest, { force: true });
    throw e;
  } finally {
    await source.close();
  }
  await out.close();
}
