/**
 * Verified streaming (README "Verified streaming"): a blob is read from the stick in
 * whole chunks, each chunk is hashed and compared with the signed chunk index, and only
 * then handed on. Nothing downstream (decompressor, tar parser, GNU tar) ever sees a byte
 * that was not verified, each byte is read from the stick exactly once, and the buffer
 * that was hashed is the buffer that is passed on: a stick that answers differently on a
 * second read has nothing to exploit. The next chunk is read while the current one is
 * being consumed, so the disk and the decompressor overlap.
 */
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { Readable } from 'node:stream';
import { FerryError } from '../errors.js';
import { openRegular } from '../util/fsx.js';
import type { ChunkSource, FileRange } from './range-copy.js';
import type { Descriptor } from './types.js';

/**
 * Open a file of the stick for reading through fsx.openRegular (never a FIFO or device, never
 * through a link below `under`, only a regular file); an archive given by path may be a link.
 */
export async function openRegularForRead(file: string, what: string, under?: string): Promise<fsp.FileHandle> {
  try {
    return (await openRegular(file, what, { media: true, ...(under !== undefined ? { under } : {}) })).fh;
  } catch (e) {
    if (e instanceof FerryError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new FerryError('BLOB_MISSING', `${what} is missing from the stick: the media is incomplete; re-copy it at headquarters`, { cause: e });
    throw new FerryError('IO_ERROR', `${what}: cannot open ${file}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Open the stick's file that holds the blob `desc` at `r` (from OciLayout.blobRange), with the
 * checks every chunk-verified read starts with: present, of the descriptor's size, a regular
 * file (openRegularForRead), and long enough as opened.
 */
export async function openBlobFile(r: FileRange | undefined, desc: Descriptor, what: string): Promise<{ fh: fsp.FileHandle; range: FileRange }> {
  if (r === undefined) throw new FerryError('BLOB_MISSING', `${what} is missing from the stick: the media is incomplete; re-copy it at headquarters`, { details: { digest: desc.digest } });
  if (r.size !== desc.size) {
    throw new FerryError('SIZE_MISMATCH', `${what}: expected ${desc.size} bytes, the stick holds ${r.size}: the media was altered or damaged; re-copy it at headquarters`, { details: { expected: desc.size, actual: r.size } });
  }
  const fh = await openRegularForRead(r.file, what, r.under);
  // the handle, not the name: the size that counts is the one of the file actually opened
  if ((await fh.stat()).size < r.start + r.size) {
    await fh.close();
    throw new FerryError('SIZE_MISMATCH', `${what}: the stick's file is shorter than the ${desc.size} bytes it should hold: re-copy it at headquarters`);
  }
  return { fh, range: r };
}

/** Reads of one blob's chunks, in order: chunk bytes into `buf` from blob offset `off`. */
interface ChunkReads {
  read(buf: Buffer, off: number): Promise<void>;
  close(): Promise<void>;
}

/** What a failed check says about where the bytes came from (layer-feed.ts says the same). */
export const TAILS = {
  stick: { chunk: 'the media was altered or damaged; nothing of that chunk was used; re-copy the stick at headquarters', whole: 'the update is inconsistent; nothing was activated; report this stick to headquarters' },
  registry: { chunk: 'the registry served altered bytes; nothing of that chunk was used', whole: 'the update is inconsistent; nothing was activated; report this registry to headquarters' },
} as const;

/**
 * A stream of the blob `desc`, whose bytes sit at `range`, in which every chunk of
 * `chunkSize` bytes has been checked against `chunks` (hex SHA-256) before it is emitted.
 * Fails with SIZE_MISMATCH when the stick holds another size, DIGEST_MISMATCH at the
 * first chunk that differs (details.chunk is its index), and DIGEST_MISMATCH at the end when
 * the verified chunks do not make up the blob's own digest.
 */
export function readChunkVerified(locate: () => Promise<FileRange | undefined>, desc: Descriptor, chunks: readonly string[], chunkSize: number, what: string): Readable {
  const open = async (): Promise<ChunkReads> => {
    const { fh, range: r } = await openBlobFile(await locate(), desc, what);
    return {
      async read(buf, off) {
        for (let got = 0; got < buf.length; ) {
          const { bytesRead } = await fh.read(buf, got, buf.length - got, r.start + off + got);
          if (bytesRead === 0) throw new FerryError('SIZE_MISMATCH', `${what}: the stick's copy ends after ${off + got} of ${desc.size} bytes: the media was altered or damaged; re-copy it at headquarters`);
          got += bytesRead;
        }
      },
      close: () => fh.close(),
    };
  };
  return verifiedChunks(open, desc, chunks, chunkSize, what, 'stick');
}

/**
 * The same for a blob that a ChunkSource reads straight into the chunk buffers (a site
 * registry's raw GET, registry/blob-fetch.ts): no stream in between, no copy, the same checks.
 * The source is held to `desc.size` bytes (the size of the signed manifest's descriptor).
 */
export function sourceChunkVerified(source: () => ChunkSource, desc: Descriptor, chunks: readonly string[], chunkSize: number, what: string): Readable {
  const open = async (): Promise<ChunkReads> => {
    const src = source();
    return { read: (buf) => src.read(buf, buf.length), close: () => src.close() };
  };
  return verifiedChunks(open, desc, chunks, chunkSize, what, 'registry');
}

/** The verified chunk stream over `open`'s reads: chunk i+1 is read while chunk i is consumed. */
function verifiedChunks(open: () => Promise<ChunkReads>, desc: Descriptor, chunks: readonly string[], chunkSize: number, what: string, from: keyof typeof TAILS): Readable {
  // The blob's own digest too: a signer's chunk index must describe the bytes stored under
  // that digest, so the layout stays content-addressed for skopeo, umoci and bootc.
  const whole = createHash('sha256');
  let reads: ChunkReads | undefined;
  let next = 0;
  let ahead: Promise<Buffer> | undefined;
  const read = async (i: number): Promise<Buffer> => {
    const off = i * chunkSize;
    const buf = Buffer.allocUnsafe(Math.min(chunkSize, desc.size - off));
    await reads!.read(buf, off);
    return buf;
  };
  return new Readable({
    highWaterMark: chunkSize,
    construct(cb) {
      open().then(
        (r) => {
          reads = r;
          cb();
        },
        (e: Error) => cb(e),
      );
    },
    read() {
      if (next >= chunks.length) {
        const actual = whole.digest('hex');
        if (`sha256:${actual}` !== desc.digest) {
          this.destroy(
            new FerryError('DIGEST_MISMATCH', `${what}: its chunks match the signed chunk index but the blob does not match its digest ${desc.digest}: ${TAILS[from].whole}`, {
              details: { expected: desc.digest, actual: `sha256:${actual}` },
            }),
          );
          return;
        }
        this.push(null);
        return;
      }
      const i = next;
      const cur = ahead ?? read(i);
      ahead = undefined;
      cur.then(
        (buf) => {
          const actual = createHash('sha256').update(buf).digest('hex');
          if (actual !== chunks[i]) {
            this.destroy(
              new FerryError('DIGEST_MISMATCH', `${what}: chunk ${i + 1} of ${chunks.length} does not match the signed chunk index: ${TAILS[from].chunk}`, {
                details: { chunk: i, expected: chunks[i], actual, digest: desc.digest },
              }),
            );
            return;
          }
          whole.update(buf);
          next = i + 1;
          if (next < chunks.length) ahead = read(next);
          ahead?.catch(() => undefined); // surfaced when consumed
          this.push(buf);
        },
        (e: Error) => this.destroy(e),
      );
    },
    destroy(err, cb) {
      const r = reads;
      reads = undefined;
      // wait for a read in flight before closing what it reads from
      const settle = ahead ? ahead.then(() => undefined, () => undefined) : Promise.resolve();
      settle.then(() => (r ? r.close() : undefined)).then(() => cb(err), () => cb(err));
    },
  });
}
