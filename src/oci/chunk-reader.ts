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
import { Readable, Transform } from 'node:stream';
import { FerryError } from '../errors.js';
import { openRegular } from '../util/fsx.js';
import type { FileRange } from './range-copy.js';
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
 * A stream of the blob `desc`, whose bytes sit at `range`, in which every chunk of
 * `chunkSize` bytes has been checked against `chunks` (hex SHA-256) before it is emitted.
 * Fails with SIZE_MISMATCH when the stick holds another size, DIGEST_MISMATCH at the
 * first chunk that differs (details.chunk is its index), and DIGEST_MISMATCH at the end when
 * the verified chunks do not make up the blob's own digest.
 */
export function readChunkVerified(locate: () => Promise<FileRange | undefined>, desc: Descriptor, chunks: readonly string[], chunkSize: number, what: string): Readable {
  let range: FileRange;
  // The blob's own digest too: a signer's chunk index must describe the bytes stored under
  // that digest, so the layout stays content-addressed for skopeo, umoci and bootc.
  const whole = createHash('sha256');
  let fh: fsp.FileHandle | undefined;
  let next = 0;
  let ahead: Promise<Buffer> | undefined;
  const read = async (i: number): Promise<Buffer> => {
    const off = i * chunkSize;
    const len = Math.min(chunkSize, desc.size - off);
    const buf = Buffer.allocUnsafe(len);
    for (let got = 0; got < len; ) {
      const { bytesRead } = await fh!.read(buf, got, len - got, range.start + off + got);
      if (bytesRead === 0) throw new FerryError('SIZE_MISMATCH', `${what}: the stick's copy ends after ${off + got} of ${desc.size} bytes: the media was altered or damaged; re-copy it at headquarters`);
      got += bytesRead;
    }
    return buf;
  };
  return new Readable({
    highWaterMark: chunkSize,
    construct(cb) {
      const open = async (): Promise<void> => {
        const r = await locate();
        if (r === undefined) throw new FerryError('BLOB_MISSING', `${what} is missing from the stick: the media is incomplete; re-copy it at headquarters`, { details: { digest: desc.digest } });
        if (r.size !== desc.size) {
          throw new FerryError('SIZE_MISMATCH', `${what}: expected ${desc.size} bytes, the stick holds ${r.size}: the media was altered or damaged; re-copy it at headquarters`, { details: { expected: desc.size, actual: r.size } });
        }
        range = r;
        fh = await openRegularForRead(r.file, what, r.under);
        // the handle, not the name: the size that counts is the one of the file actually opened
        if ((await fh.stat()).size < r.start + r.size) throw new FerryError('SIZE_MISMATCH', `${what}: the stick's file is shorter than the ${desc.size} bytes it should hold: re-copy it at headquarters`);
      };
      open().then(
        () => cb(),
        (e: Error) => cb(e),
      );
    },
    read() {
      if (next >= chunks.length) {
        const actual = whole.digest('hex');
        if (`sha256:${actual}` !== desc.digest) {
          this.destroy(
            new FerryError('DIGEST_MISMATCH', `${what}: its chunks match the signed chunk index but the blob does not match its digest ${desc.digest}: the update is inconsistent; nothing was activated; report this stick to headquarters`, {
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
              new FerryError('DIGEST_MISMATCH', `${what}: chunk ${i + 1} of ${chunks.length} does not match the signed chunk index: the media was altered or damaged; nothing of that chunk was used; re-copy the stick at headquarters`, {
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
      const h = fh;
      fh = undefined;
      // wait for a read in flight before closing its handle
      const settle = ahead ? ahead.then(() => undefined, () => undefined) : Promise.resolve();
      settle.then(() => (h ? h.close() : undefined)).then(() => cb(err), () => cb(err));
    },
  });
}

/**
 * The same verified streaming for a blob that arrives as a stream (a site registry): bytes are
 * gathered into whole chunks, each hashed and compared with the signed chunk index before it
 * is passed on (the hashed buffer is the one passed on), at most one chunk held in memory.
 */
export function chunkVerifiedStream(src: Readable, desc: Descriptor, chunks: readonly string[], chunkSize: number, what: string): Readable {
  const whole = createHash('sha256');
  let pending: Buffer[] = [];
  let pendingLen = 0;
  let i = 0;
  let total = 0;
  const verify = (buf: Buffer): FerryError | undefined => {
    const actual = createHash('sha256').update(buf).digest('hex');
    if (i >= chunks.length || actual !== chunks[i]) {
      return new FerryError('DIGEST_MISMATCH', `${what}: chunk ${i + 1} of ${chunks.length} does not match the signed chunk index: the registry served altered bytes; nothing of that chunk was used`, {
        details: { chunk: i, expected: chunks[i] ?? null, actual, digest: desc.digest },
      });
    }
    whole.update(buf);
    i++;
    return undefined;
  };
  const t = new Transform({
    readableHighWaterMark: chunkSize,
    transform(c: Buffer, _enc, cb) {
      total += c.length;
      if (total > desc.size) return cb(new FerryError('SIZE_MISMATCH', `${what}: the registry sent more than the ${desc.size} bytes it should be`, { details: { expected: desc.size } }));
      pending.push(c);
      pendingLen += c.length;
      while (pendingLen >= chunkSize) {
        const all = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingLen);
        const buf = Buffer.from(all.subarray(0, chunkSize));
        const rest = all.subarray(chunkSize);
        const err = verify(buf);
        if (err) return cb(err);
        this.push(buf);
        pending = rest.length > 0 ? [rest] : [];
        pendingLen = rest.length;
      }
      cb();
    },
    flush(cb) {
      if (pendingLen > 0) {
        const buf = Buffer.concat(pending, pendingLen);
        const err = verify(buf);
        if (err) return cb(err);
        this.push(buf);
      }
      if (total !== desc.size || i !== chunks.length) return cb(new FerryError('SIZE_MISMATCH', `${what}: the registry sent ${total} of ${desc.size} bytes`, { details: { expected: desc.size, actual: total } }));
      const actual = `sha256:${whole.digest('hex')}`;
      if (actual !== desc.digest) return cb(new FerryError('DIGEST_MISMATCH', `${what}: its chunks match the signed chunk index but the blob does not match its digest ${desc.digest}`, { details: { expected: desc.digest, actual } }));
      cb();
    },
  });
  src.on('error', (e) => t.destroy(e));
  return src.pipe(t);
}
