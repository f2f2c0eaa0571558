import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobFileWriter, directOk } from '../../src/oci/blob-file-writer.js';
import { ChunkHasher } from '../../src/oci/chunk-index.js';
import { ChunkDigester } from '../../src/oci/chunk-hasher-parallel.js';
import { sha256Digest } from '../../src/oci/digest.js';
import { type ChunkSource, copyVerified } from '../../src/oci/range-copy.js';
import { tempDir } from '../media/fixtures.js';

/** Chunks of 256 KiB: a multiple of 64 KiB, so the digester's pool buffers are page-aligned. */
const CH = 256 * 1024;

let dir: string;
/** Whether the test folder's file system takes O_DIRECT at all (tmpfs before Linux 6.6 does not). */
let fsDirect = true;
beforeAll(async () => {
  dir = await tempDir('ferry-blob-file-writer-');
  await fsp
    .open(path.join(dir, 'probe'), constants.O_WRONLY | constants.O_CREAT | constants.O_DIRECT)
    .then((h) => h.close())
    .catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EINVAL') throw e;
      fsDirect = false;
    });
  fsDirect &&= await directOk(dir);
});
afterAll(() => fsp.rm(dir, { recursive: true, force: true }));

/** `data` as a ChunkSource (what a registry download is to the copy). */
function memorySource(data: Buffer): ChunkSource {
  let off = 0;
  return {
    async read(buf, len) {
      data.copy(buf, 0, off, off + len);
      off += len;
    },
    close: async () => undefined,
  };
}

describe('BlobFileWriter', () => {
  it('writes pool buffers direct, out of order, and a tail that fills no block through the page cache', async () => {
    // two whole chunks and a short third one that ends 1000 bytes into a block
    const data = randomBytes(2 * CH + 3 * 4096 + 1000);
    const pool = new ChunkDigester(CH, 3);
    const bufs = [await pool.acquire(), await pool.acquire(), await pool.acquire()];
    const lens = [CH, CH, data.length - 2 * CH];
    bufs.forEach((b, i) => data.copy(b, 0, i * CH, i * CH + lens[i]!));
    const dest = path.join(dir, 'direct.bin');
    const w = await BlobFileWriter.create(dest, true);
    expect(w.direct).toBe(fsDirect); // a file system without O_DIRECT gets buffered writes, same bytes
    // the last chunk first, the first one last: positions are explicit
    await Promise.all([w.write(bufs[2]!, lens[2]!, 2 * CH), w.write(bufs[1]!, lens[1]!, CH)]);
    await w.write(bufs[0]!, lens[0]!, 0);
    expect(w.direct).toBe(fsDirect); // no write was refused: the pool's buffers are aligned for O_DIRECT
    await w.settle();
    await w.sync();
    await w.close();
    expect((await fsp.readFile(dest)).equals(data)).toBe(true);
    bufs.forEach((b) => pool.release(b));
  });

  it('falls back to buffered writes when a direct write is refused (an unaligned buffer), with the same bytes', async () => {
    const data = randomBytes(CH + 777);
    const pool = new ChunkDigester(CH * 2, 1);
    const aligned = await pool.acquire();
    const unaligned = aligned.subarray(1); // one byte past a page: O_DIRECT refuses it (EINVAL)
    data.copy(unaligned);
    const dest = path.join(dir, 'fallback.bin');
    const w = await BlobFileWriter.create(dest, true);
    await w.write(unaligned, CH, 0);
    expect(w.direct).toBe(false);
    await w.write(unaligned.subarray(CH), 777, CH);
    await w.settle();
    await w.sync();
    await w.close();
    expect((await fsp.readFile(dest)).equals(data)).toBe(true);
    pool.release(aligned);
  });

  it('creates exclusively in either mode', async () => {
    const dest = path.join(dir, 'taken.bin');
    await fsp.writeFile(dest, 'x');
    await expect(BlobFileWriter.create(dest, true)).rejects.toMatchObject({ code: 'EEXIST' });
    await expect(BlobFileWriter.create(dest, false)).rejects.toMatchObject({ code: 'EEXIST' });
    const plain = await BlobFileWriter.create(path.join(dir, 'plain.bin'), false);
    expect(plain.direct).toBe(false);
    await plain.close();
  });

  it('writes direct only on kernel block file systems: ext4 yes, tmpfs (or a FUSE stick) buffered', async () => {
    const ext4 = (await fsp.statfs(dir)).type === 0xef53;
    if (ext4) expect(await directOk(dir)).toBe(true);
    const shm = await fsp.mkdtemp('/dev/shm/ferry-direct-');
    try {
      expect((await fsp.statfs(shm)).type).toBe(0x01021994); // tmpfs
      expect(await directOk(shm)).toBe(false);
      const w = await BlobFileWriter.create(path.join(shm, 'b.bin'), true);
      expect(w.direct).toBe(false);
      await w.close();
    } finally {
      await fsp.rm(shm, { recursive: true, force: true });
    }
  });
});

describe('copyVerified with direct writes', () => {
  it('writes the bytes with their chunk digests and whole digest checked', async () => {
    const data = randomBytes(7 * CH + 4096 * 5 + 3);
    const desc = { mediaType: 'application/octet-stream', digest: sha256Digest(data), size: data.length };
    const chunks = new ChunkDigester(CH, 3, false, true);
    const dest = path.join(dir, 'copy-direct.bin');
    await copyVerified(memorySource(data), dest, desc, 'blob', chunks, undefined, true, true);
    const ref = new ChunkHasher(CH);
    ref.update(data);
    expect(await chunks.finish()).toEqual(ref.finish());
    expect(createHash('sha256').update(await fsp.readFile(dest)).digest('hex')).toBe(desc.digest.slice(7));
  });

  it('refuses bytes that do not match the digest and leaves no file', async () => {
    const data = randomBytes(3 * CH + 10);
    const desc = { mediaType: 'application/octet-stream', digest: sha256Digest(data), size: data.length };
    const altered = Buffer.from(data);
    altered[CH + 5] = altered[CH + 5]! ^ 1;
    const dest = path.join(dir, 'copy-altered.bin');
    await expect(copyVerified(memorySource(altered), dest, desc, 'blob', new ChunkDigester(CH, 3, false, true), undefined, true, true)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    await expect(fsp.stat(dest)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
