/**
 * The fast path of a verified blob copy: when the source bytes are a plain byte range of
 * a file (a blob in a layout directory, a member of an oci-archive or docker-archive),
 * copy them with positioned reads and writes of 4 MiB, the next read in flight while the
 * current chunk is hashed and written: about twice the speed of a stream pipeline.
 */
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { FerryError } from '../errors.js';
import { openRegular } from '../util/fsx.js';
import { digestHex, type Descriptor } from './types.js';

/** Where a blob's bytes sit: `size` bytes of `file` starting at `start`. */
export interface FileRange {
  file: string;
  start: number;
  size: number;
  /** The file lies on media below this folder: it is opened as fsx.openRegular's `under` (no links, no special files). */
  under?: string;
}

const CHUNK = 4 * 1024 * 1024;

/**
 * Copy `range` to the new file `dest` (created exclusively), checking size and sha256
 * against `desc`, and fsync it; `onData` sees every byte copied (e.g. to hash chunks). `dest` is removed again on any failure.
 */
export async function copyRangeVerified(range: FileRange, dest: string, desc: Descriptor, what: string, onBytes?: (n: number) => void, onData?: (b: Buffer) => void): Promise<void> {
  if (range.size !== desc.size) {
    throw new FerryError('SIZE_MISMATCH', `${what}: expected ${desc.size} bytes, the source holds ${range.size}: the source was altered or damaged`, { details: { expected: desc.size, actual: range.size } });
  }
  const src = (await openRegular(range.file, what, { media: true, ...(range.under !== undefined ? { under: range.under } : {}) })).fh;
  const out = await fsp.open(dest, 'wx', 0o644);
  try {
    const hash = createHash('sha256');
    const bufs = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)];
    let i = 0;
    let done = 0;
    const readAt = (buf: Buffer, off: number) => src.read(buf, 0, Math.min(CHUNK, range.size - off), range.start + off);
    let pending = range.size > 0 ? readAt(bufs[0]!, 0) : undefined;
    let writing: Promise<unknown> = Promise.resolve();
    while (pending) {
      const { bytesRead } = await pending;
      if (bytesRead === 0) throw new FerryError('CORRUPT_ARCHIVE', `${what}: the source ended after ${done} of ${range.size} bytes`);
      const cur = bufs[i]!;
      done += bytesRead;
      await writing; // the other buffer is free again once its write is done
      i ^= 1;
      pending = done < range.size ? readAt(bufs[i]!, done) : undefined;
      hash.update(cur.subarray(0, bytesRead));
      onData?.(cur.subarray(0, bytesRead));
      writing = out.write(cur, 0, bytesRead);
      onBytes?.(bytesRead);
    }
    await writing;
    const actual = hash.digest('hex');
    if (actual !== digestHex(desc.digest)) {
      throw new FerryError('DIGEST_MISMATCH', `${what}: content does not match its digest (expected ${desc.digest}, got sha256:${actual}): the source was altered or damaged`, {
        details: { expected: desc.digest, actual: `sha256:${actual}` },
      });
    }
    await out.sync();
  } catch (e) {
    await out.close().catch(() => undefined);
    await fsp.rm(dest, { force: true });
    throw e;
  } finally {
    await src.close();
  }
  await out.close();
}
