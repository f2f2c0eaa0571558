/**
 * The body of a blob pushed from a stick in one request (`ferry push`'s common case): read
 * once, 4 MiB at a time, into a pool of buffers that are written to the socket and then hashed
 * on the hashing worker (chunk-hasher-parallel.ts, whole digest only), so this thread only
 * reads and writes and allocates nothing per chunk (bench: a hash here took a third of the
 * push's main thread, and a fresh 4 MiB Buffer per read cost garbage collection and page
 * faults). The last chunk is hashed before it is sent and sent only once the whole blob
 * matches its digest: an altered blob never completes its upload. The file is opened with
 * the stick's rules (a regular file below FERRY/oci, no links) and must have the descriptor's size.
 */
import type { FileHandle } from 'node:fs/promises';
import { FerryError } from '../errors.js';
import { ChunkDigester } from '../oci/chunk-hasher-parallel.js';
import type { BodyPump } from '../oci/registry/http.js';
import type { Descriptor } from '../oci/types.js';
import { openRegular } from '../util/fsx.js';

const CHUNK = 4 * 1024 * 1024;
const ALTERED = 'the media was altered or damaged; re-copy it at headquarters';

/** A stick blob that cannot be opened, typed as verify types it (a missing blob is BLOB_MISSING). */
export function stickError(e: unknown, d: Descriptor, what: string): Error {
  if (e instanceof FerryError) return e;
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ENOENT') return new FerryError('BLOB_MISSING', `${what} is missing from the stick: the media is incomplete; re-copy it at headquarters`, { cause: e, details: { digest: d.digest } });
  return new FerryError('IO_ERROR', `${what}: ${err.message}`, { cause: e });
}

async function readAt(fh: FileHandle, buf: Buffer, len: number, pos: number, what: string): Promise<void> {
  for (let got = 0; got < len; ) {
    const { bytesRead } = await fh.read(buf, got, len - got, pos + got);
    if (bytesRead === 0) throw new FerryError('SIZE_MISMATCH', `${what}: the file ends after ${pos + got} bytes: ${ALTERED}`);
    got += bytesRead;
  }
}

/** The pump of blob `d` stored at `file` (below `under`), for one upload request. */
export function stickBlobBody(file: string, under: string, d: Descriptor, what: string): () => BodyPump {
  return () => ({
    async pump(write) {
      const fh = await openRegular(file, what, { media: true, under }).then(
        (f) => f.fh,
        (e: unknown) => {
          throw stickError(e, d, what);
        },
      );
      try {
        const size = (await fh.stat()).size;
        if (size !== d.size) throw new FerryError('SIZE_MISMATCH', `${what}: expected ${d.size} bytes, the file holds ${size}: ${ALTERED}`, { details: { expected: d.size, actual: size } });
        await pumpFile(fh, d, what, write);
      } finally {
        await fh.close();
      }
    },
  });
}

async function pumpFile(fh: FileHandle, d: Descriptor, what: string, write: (buf: Buffer) => Promise<void>): Promise<void> {
  const hashes = new ChunkDigester(CHUNK, 4, false, true, false);
  const lastStart = d.size === 0 ? 0 : Math.floor((d.size - 1) / CHUNK) * CHUNK;
  try {
    // every chunk but the last: read (the next read in flight while one is written), write, then hash
    let writing: Promise<void> = Promise.resolve();
    let failed = false;
    for (let off = 0; off < lastStart && !failed; off += CHUNK) {
      const buf = await hashes.acquire();
      try {
        await readAt(fh, buf, CHUNK, off, what);
      } catch (e) {
        hashes.release(buf);
        throw e;
      }
      const before = writing;
      writing = (async () => {
        try {
          await before; // in order: the whole digest is of the bytes in order
          await write(buf);
        } catch (e) {
          hashes.release(buf);
          throw e;
        }
        hashes.submit(buf, CHUNK);
      })();
      writing.catch(() => (failed = true)); // thrown by `await writing` below
    }
    await writing;
    // the last chunk: hashed first, sent only once the whole blob matches its digest
    const last = Buffer.allocUnsafe(d.size - lastStart);
    await readAt(fh, last, last.length, lastStart, what);
    if (last.length > 0) {
      const b = await hashes.acquire();
      last.copy(b);
      hashes.submit(b, last.length);
    }
    const actual = `sha256:${await hashes.wholeDigest()}`;
    if (actual !== d.digest) throw new FerryError('DIGEST_MISMATCH', `${what}: content does not match its digest (expected ${d.digest}, got ${actual}): ${ALTERED}`, { details: { expected: d.digest, actual } });
    if (last.length > 0) await write(last);
  } catch (e) {
    await hashes.wholeDigest().catch(() => undefined); // the worker forgets this blob
    throw e;
  }
}
