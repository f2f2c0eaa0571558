import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ChunkDigester } from '../../src/oci/chunk-hasher-parallel.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Feed `data` through a digester the way range-copy does: acquire, fill, submit (saying which piece is the last when `last`). */
async function feed(d: ChunkDigester, data: Buffer, last = false): Promise<void> {
  for (let off = 0; off < data.length; off += d.pieceSize) {
    const buf = await d.acquire();
    const len = data.copy(buf, 0, off, Math.min(data.length, off + d.pieceSize));
    d.submit(buf, len, last && off + len === data.length);
  }
}

const chunksOf = (data: Buffer, size: number): string[] => Array.from({ length: Math.ceil(data.length / size) }, (_, i) => sha(data.subarray(i * size, (i + 1) * size)));

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

  it('gives a buffer back only once it is hashed and the write given with it has settled', async () => {
    const d = new ChunkDigester(4096, 1, false, true, true, 4096, 'here');
    const buf = await d.acquire();
    let finishWrite!: () => void;
    d.submit(buf, buf.copy(buf, 0, 0, 0) + 100, false, new Promise<void>((r) => (finishWrite = r)));
    let got = false;
    const next = d.acquire().then((b) => ((got = true), b));
    await new Promise((r) => setTimeout(r, 20));
    expect(got).toBe(false); // hashed at once here, but still being written
    finishWrite();
    d.release(await next);
    expect(got).toBe(true);
  });

  it('refuses a buffer that did not come from acquire()', () => {
    const d = new ChunkDigester(4096, 2, false, true);
    expect(() => d.submit(Buffer.alloc(4096), 4096)).toThrow(/not from acquire/);
    expect(() => d.release(Buffer.alloc(4096))).toThrow(/not from acquire/);
  });

  describe('pieces smaller than a chunk', () => {
    // 4 pieces a chunk; sizes: a short last chunk, a last chunk of whole pieces, exact chunks, one piece, a short single piece
    for (const size of [5 * 16384 + 1234, 6 * 16384, 8 * 16384, 16384, 100]) {
      for (const [last, thread] of [[true, 'worker'], [false, 'worker'], [true, 'here'], [false, 'here'], [true, 'split'], [false, 'split']] as const) {
        it(`gives the digests of 64 KiB chunks read in 16 KiB pieces (${size} bytes, last piece ${last ? 'marked' : 'not marked'}, hashed ${thread})`, async () => {
          const data = randomBytes(size);
          const d = new ChunkDigester(65536, 3, false, true, true, 16384, thread);
          await feed(d, data, last);
          // the whole digest first, as copyVerified asks: the open chunk is closed before the worker forgets the blob
          expect(await d.wholeDigest()).toBe(sha(data));
          expect(await d.finish()).toEqual(chunksOf(data, 65536));
        });
      }
    }

    it('keeps the chunks of blobs hashed in pieces at the same time apart', async () => {
      const a = randomBytes(11 * 4096 + 5);
      const b = randomBytes(7 * 4096);
      const da = new ChunkDigester(16384, 2, false, true, true, 4096);
      const db = new ChunkDigester(16384, 2, false, true, true, 4096);
      for (let off = 0; off < a.length; off += 4096) {
        for (const [d, data] of [[da, a], [db, b]] as const) {
          if (off >= data.length) continue;
          const buf = await d.acquire();
          d.submit(buf, data.copy(buf, 0, off, Math.min(data.length, off + 4096)));
        }
      }
      expect(await db.finish()).toEqual(chunksOf(b, 16384));
      expect(await da.finish()).toEqual(chunksOf(a, 16384));
      expect(await da.wholeDigest()).toBe(sha(a));
      expect(await db.wholeDigest()).toBe(sha(b));
    });

    it('finds a gzip member header that straddles two pieces, and not the one at offset 0', async () => {
      const data = Buffer.alloc(4 * 4096);
      data.set([0x1f, 0x8b, 0x08, 0x00], 0); // the blob's own header
      for (const thread of ['worker', 'split'] as const) {
        data.fill(0, 2);
        const one = new ChunkDigester(16384, 2, true, true, true, 4096, thread);
        await feed(one, data, true);
        await one.finish();
        expect({ thread, found: one.maybeMultiMember() }).toEqual({ thread, found: false });
        data.set([0x1f, 0x8b], 4096 - 2);
        data.set([0x08, 0x00], 4096);
        const two = new ChunkDigester(16384, 2, true, true, true, 4096, thread);
        await feed(two, data, true);
        await two.finish();
        expect({ thread, found: two.maybeMultiMember() }).toEqual({ thread, found: true });
      }
    });

    it('refuses a piece size that does not divide the chunk size, and a piece longer than its buffer', async () => {
      expect(() => new ChunkDigester(16384, 2, false, true, true, 5000)).toThrow(/does not divide/);
      const d = new ChunkDigester(16384, 2, false, true, true, 4096);
      const buf = await d.acquire();
      expect(() => d.submit(buf, 4097)).toThrow(/4097 bytes/);
      d.release(buf);
    });
  });
});
