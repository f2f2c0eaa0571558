import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ChunkDigester } from '../../src/oci/chunk-hasher-parallel.js';

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

  it('refuses a whole digest it was not asked for', async () => {
    const d = new ChunkDigester(4096, 2);
    expect(d.whole).toBe(false);
    await expect(d.wholeDigest()).rejects.toThrow(/not asked for/);
  });
  it('reuses pool buffers across digesters (shared memory, not moved), the digests right though each buffer is refilled as soon as it is back', async () => {
    const a = randomBytes(7 * 4096 + 11);
    const b = randomBytes(5 * 4096);
    const da = new ChunkDigester(4096, 2, false, true);
    const seen = new Set<ArrayBufferLike>();
    for (let off = 0; off < a.length; off += 4096) {
      const buf = await da.acquire();
      expect(buf.buffer).toBeInstanceOf(SharedArrayBuffer);
      seen.add(buf.buffer);
      da.submit(buf, a.copy(buf, 0, off, Math.min(a.length, off + 4096)));
    }
    expect(seen.size).toBe(2); // two buffers, each refilled while the other was hashed
    expect(await da.wholeDigest()).toBe(sha(a));
    expect(await da.finish()).toEqual(Array.from({ length: 8 }, (_, i) => sha(a.subarray(i * 4096, (i + 1) * 4096))));
    const db = new ChunkDigester(4096, 2, false, true);
    const again = await db.acquire();
    expect(seen.has(again.buffer)).toBe(true); // the first digester's buffer, from the pool
    db.release(again);
    await feed(db, b);
    expect(await db.wholeDigest()).toBe(sha(b));
  });

  it('refuses a buffer that did not come from acquire()', () => {
    const d = new ChunkDigester(4096, 2, false, true);
    expect(() => d.submit(Buffer.alloc(4096), 4096)).toThrow(/not from acquire/);
    expect(() => d.release(Buffer.alloc(4096))).toThrow(/not from acquire/);
  });
});
