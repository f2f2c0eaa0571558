import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ChunkDigester, spareBuffers } from '../../src/oci/chunk-hasher-parallel.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Feed `data` through a digester the way range-copy does: acquire, fill, submit. */
async function feed(d: ChunkDigester, data: Buffer): Promise<void> {
  for (let off = 0; off < data.length; off += d.chunkSize) {
    const buf = await d.acquire();
    const len = data.copy(buf, 0, off, Math.min(data.length, off + d.chunkSize));
    d.submit(buf, len);
  }
}

describe('ChunkDigester', () => {
  it('gives each chunk digest and the whole digest of the bytes submitted, the last chunk short', async () => {
    const data = randomBytes(5 * 65536 + 1234);
    const d = new ChunkDigester(65536, 3, false, true);
    await feed(d, data);
    const chunks = await d.finish();
    expect(chunks).toHaveLength(6);
    for (let i = 0; i < 6; i++) expect(chunks[i]).toBe(sha(data.subarray(i * 65536, (i + 1) * 65536)));
    expect(await d.wholeDigest()).toBe(sha(data));
  });

  it('keeps the whole digests of blobs hashed at the same time apart', async () => {
    const a = randomBytes(9 * 4096 + 7);
    const b = randomBytes(4 * 4096);
    const da = new ChunkDigester(4096, 2, false, true);
    const db = new ChunkDigester(4096, 2, false, true);
    // interleave the two blobs' chunks on the one worker
    for (let off = 0; off < Math.max(a.length, b.length); off += 4096) {
      for (const [d, data] of [[da, a], [db, b]] as const) {
        if (off >= data.length) continue;
        const buf = await d.acquire();
        d.submit(buf, data.copy(buf, 0, off, Math.min(data.length, off + 4096)));
      }
    }
    expect(await db.wholeDigest()).toBe(sha(b));
    expect(await da.wholeDigest()).toBe(sha(a));
    expect(await da.finish()).toHaveLength(10);
  });

  it('digests an empty blob, and a second blob on the same stream id is never mixed in', async () => {
    const d = new ChunkDigester(4096, 2, false, true);
    expect(await d.wholeDigest()).toBe(sha(Buffer.alloc(0)));
    const e = new ChunkDigester(4096, 2, false, true);
    await feed(e, Buffer.from('ferry'));
    expect(await e.wholeDigest()).toBe(sha(Buffer.from('ferry')));
  });

  it('hands the buffers of a finished digester to the next one, which still digests right', async () => {
    const size = 3 * 4096; // a size no other test uses: the spares are per process
    const a = randomBytes(5 * size + 17);
    const d1 = new ChunkDigester(size, 3, false, true);
    await feed(d1, a);
    await d1.finish();
    expect(spareBuffers(size)).toBe(3);
    const b = randomBytes(4 * size);
    const d2 = new ChunkDigester(size, 3, false, true);
    await feed(d2, b);
    expect(spareBuffers(size)).toBe(0); // taken, not shared
    expect(await d2.finish()).toEqual([0, 1, 2, 3].map((i) => sha(b.subarray(i * size, (i + 1) * size))));
    expect(await d2.wholeDigest()).toBe(sha(b));
    expect(spareBuffers(size)).toBe(3);
  });

  it('keeps no buffer while one is still out with its reader', async () => {
    const size = 5 * 4096;
    const d = new ChunkDigester(size, 3, false, true);
    const held = await d.acquire(); // read into, never submitted nor released
    await feed(d, randomBytes(2 * size));
    await d.finish();
    expect(spareBuffers(size)).toBe(0);
    d.release(held);
  });

  it('refuses a whole digest it was not asked for', async () => {
    const d = new ChunkDigester(4096, 2);
    expect(d.whole).toBe(false);
    await expect(d.wholeDigest()).rejects.toThrow(/not asked for/);
  });
});
