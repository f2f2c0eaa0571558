import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { SharedReads, sharedSourceFor } from '../../../src/media/campaign/shared-reads.js';
import type { SourceImage } from '../../../src/oci/source.js';
import { LayoutWriter } from '../../../src/oci/blob-store.js';
import { SHARED_FEED, type SharedFeed } from '../../../src/oci/shared-feed.js';
import { DigestVerifier } from '../../../src/oci/digest.js';

const CHUNK = 64 * 1024;
const CHUNKS = 1024; // 64 MiB: 16 chunks of the shared read's 4 MiB buffers

/** A source of CHUNKS chunks that counts how far it has been read. */
function countingSource(stats: { produced: number; opens: number }): { open: () => Readable; what: string } {
  return { what: 'counted', open: () => {
    stats.opens++;
    let i = 0;
    return new Readable({
      highWaterMark: CHUNK,
      read() {
        if (i === CHUNKS) return void this.push(null);
        const b = Buffer.alloc(CHUNK, i++ & 0xff);
        stats.produced += b.length;
        this.push(b);
      },
    });
  } };
}

/** A sink that takes `delayMs` per chunk, hashing what it got; `failAfter` bytes makes it fail. */
function sink(delayMs: number, seen: { bytes: number; hash: ReturnType<typeof createHash> }, failAfter?: number): Writable {
  return new Writable({
    highWaterMark: CHUNK,
    write(c: Buffer, _e, cb) {
      seen.bytes += c.length;
      seen.hash.update(c);
      if (failAfter !== undefined && seen.bytes >= failAfter) return cb(new Error('stick pulled'));
      if (delayMs === 0) cb();
      else setTimeout(cb, delayMs);
    },
  });
}

describe('SharedReads', () => {
  it('reads a blob once for three sticks; the slowest sets the pace; a failing one is dropped', async () => {
    const stats = { produced: 0, opens: 0 };
    const open = countingSource(stats);
    const reads = new SharedReads([0, 1, 2]);
    const fast = { bytes: 0, hash: createHash('sha256') };
    const slow = { bytes: 0, hash: createHash('sha256') };
    const failing = { bytes: 0, hash: createHash('sha256') };
    let maxAhead = 0;
    const slowSink = sink(1, slow);
    slowSink.on('drain', () => (maxAhead = Math.max(maxAhead, stats.produced - slow.bytes)));
    const timer = setInterval(() => (maxAhead = Math.max(maxAhead, stats.produced - slow.bytes)), 1);
    const results = await Promise.allSettled([
      pipeline(reads.open(0, 0, open), sink(0, fast)),
      pipeline(reads.open(1, 0, open), slowSink),
      pipeline(reads.open(2, 0, open), sink(0, failing, 4 * 1024 * 1024)),
    ]);
    clearInterval(timer);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect(stats.opens).toBe(1);
    expect(reads.reads).toBe(1);
    expect(fast.bytes).toBe(CHUNK * CHUNKS);
    expect(slow.bytes).toBe(CHUNK * CHUNKS);
    expect(fast.hash.digest('hex')).toBe(slow.hash.digest('hex'));
    // bounded: the read never runs more than its pool (5 x 4 MiB) plus one copied chunk per stream ahead of the slowest stick
    expect(maxAhead).toBeLessThan(28 * 1024 * 1024);
  });

  it('starts a read only when every stick asked for the blob or moved past it', async () => {
    const stats = { produced: 0, opens: 0 };
    const reads = new SharedReads([0, 1]);
    const a = { bytes: 0, hash: createHash('sha256') };
    const done = pipeline(reads.open(0, 0, countingSource(stats)), sink(0, a));
    await new Promise((r) => setTimeout(r, 20));
    expect(stats.opens).toBe(0); // stick 1 has not said whether it needs blob 0
    const other = { produced: 0, opens: 0 };
    const b = { bytes: 0, hash: createHash('sha256') };
    const later = pipeline(reads.open(1, 1, countingSource(other)), sink(0, b)); // stick 1 skipped blob 0
    await done;
    expect(stats.opens).toBe(1);
    reads.done(0); // stick 0 will not ask for blob 1: its read starts
    await later;
    expect([a.bytes, b.bytes, other.opens]).toEqual([CHUNK * CHUNKS, CHUNK * CHUNKS, 1]);
  });
});

describe('one hash for all sticks', () => {
  const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

  it('every branch carries the read\'s own hash, and LayoutWriter writes it without hashing again', async () => {
    const data = Buffer.concat(Array.from({ length: 20 }, (_, i) => Buffer.alloc(512 * 1024, i)));
    const desc = { mediaType: 'application/octet-stream', digest: sha(data), size: data.length };
    const reads = new SharedReads([0, 1]);
    const dirs = await Promise.all([0, 1].map((i) => fsp.mkdtemp(path.join(os.tmpdir(), `ferry-shared-${i}-`))));
    try {
      const writers = await Promise.all(dirs.map((d) => LayoutWriter.create(d)));
      const out = await Promise.all(writers.map((w, i) => w.writeBlob(desc, () => {
        const b = reads.open(i, 0, { what: 'x', open: () => Readable.from([data.subarray(0, 3e6), data.subarray(3e6)]) });
        expect(SHARED_FEED in b).toBe(true);
        return b;
      })));
      expect(reads.reads).toBe(1);
      for (const [i, w] of writers.entries()) {
        expect(out[i]!.written).toBe(true);
        await w.flush(); // synced and named in the background
        expect((await fsp.readFile(w.blobPath(desc.digest))).equals(data)).toBe(true);
        // the chunk digests recorded are those of the bytes (4 MiB chunks), as a hashing write records them
        expect(await w.chunksOf(desc)).toEqual([0, 1, 2].map((c) => createHash('sha256').update(data.subarray(c * 4194304, (c + 1) * 4194304)).digest('hex')));
      }
    } finally {
      for (const d of dirs) await fsp.rm(d, { recursive: true, force: true });
    }
  });

  it('hashes a source that checks its own (a layout blob), and fails with the source when it lies', async () => {
    const data = Buffer.alloc(300_000, 9);
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-shared-checked-'));
    try {
      const w = await LayoutWriter.create(dir);
      const good = { mediaType: 'x', digest: sha(data), size: data.length };
      const honest = new SharedReads([0]);
      const b = honest.open(0, 0, { what: 'x', open: () => Readable.from([data]).pipe(new DigestVerifier(good.digest, good.size)) });
      expect((await w.writeBlob(good, () => b)).written).toBe(true);
      await w.flush(); // synced and named in the background: done before the folder is removed
      expect(await (b as unknown as { [SHARED_FEED]: SharedFeed })[SHARED_FEED].hashed).toMatchObject({ digest: good.digest, size: data.length });
      // a source whose bytes do not match what it claims never ends: its error reaches the stick
      const lie = { mediaType: 'x', digest: sha(Buffer.from('claimed')), size: data.length };
      const liar = new SharedReads([0]);
      await expect(w.writeBlob(lie, () => liar.open(0, 0, { what: 'x', open: () => Readable.from([data]).pipe(new DigestVerifier(lie.digest, lie.size)) }))).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
      expect(fs.existsSync(w.blobPath(lie.digest))).toBe(false);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  it('a stick names nothing when the shared hash or size does not match the descriptor', async () => {
    const data = Buffer.alloc(100_000, 7);
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-shared-lie-'));
    try {
      const w = await LayoutWriter.create(dir);
      for (const [desc, code] of [
        [{ mediaType: 'x', digest: sha(Buffer.from('other')), size: data.length }, 'DIGEST_MISMATCH'],
        [{ mediaType: 'x', digest: sha(data), size: data.length - 1 }, 'SIZE_MISMATCH'],
        [{ mediaType: 'x', digest: sha(data), size: data.length + 1 }, 'SIZE_MISMATCH'],
      ] as const) {
        const reads = new SharedReads([0]);
        await expect(w.writeBlob(desc, () => reads.open(0, 0, { what: 'x', open: () => Readable.from([data]) }))).rejects.toMatchObject({ code });
      }
      expect((await fsp.readdir(path.join(dir, 'blobs', 'sha256'))).filter((n) => n !== '.gitkeep')).toEqual([]);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  it('needs each stick to ask in order: a stick that asks for a later blob first is taken as past the earlier one, which then costs a second read; the shared view copies one layer at a time', async () => {
    const stats = { produced: 0, opens: 0 };
    const origin = countingSource(stats);
    const reads = new SharedReads([0, 1]);
    const later = reads.open(0, 1, origin); // stick 0 asks for blob 1 first (out of order)
    const first = reads.open(1, 0, origin); // stick 1's read of blob 0 starts without stick 0
    const again = reads.open(0, 0, origin); // stick 0 then asks for blob 0: a read of its own
    expect(reads.reads).toBe(2);
    const second = reads.open(1, 1, origin);
    expect(reads.reads).toBe(3); // blob 0 twice, blob 1 once
    for (const r of [later, first, again, second]) r.destroy();
    // which is why the per-stick view of a source copies its layers in order, one at a time
    const src = { layers: [], config: { kind: 'blob', descriptor: { mediaType: 'x', digest: 'sha256:' + '0'.repeat(64), size: 0 }, open: origin.open }, concurrency: 3 } as unknown as SourceImage;
    expect(sharedSourceFor(src, reads, 0).concurrency).toBe(1);
  });
});
