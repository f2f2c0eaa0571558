import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { SharedReads } from '../../../src/media/campaign/shared-reads.js';

const CHUNK = 64 * 1024;
const CHUNKS = 256; // 16 MiB

/** A source of CHUNKS chunks that counts how far it has been read. */
function countingSource(stats: { produced: number; opens: number }): () => Readable {
  return () => {
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
  };
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
    // bounded: the read never runs more than the branch buffers (1 MiB each) plus a few chunks ahead of the slowest stick
    expect(maxAhead).toBeLessThan(3 * 1024 * 1024);
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
