import { createCipheriv, createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SharedBlob } from '../../../src/media/campaign/shared-blob.js';
import { LayoutWriter } from '../../../src/oci/blob-store.js';
import type { ChunkSource } from '../../../src/oci/range-copy.js';
import { SHARED_FEED, type SharedFeed } from '../../../src/oci/shared-feed.js';

const MiB = 1024 * 1024;
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const chunkDigests = (b: Buffer): string[] => Array.from({ length: Math.ceil(b.length / (4 * MiB)) }, (_, i) => sha(b.subarray(i * 4 * MiB, (i + 1) * 4 * MiB)));

/** Deterministic bytes that differ from chunk to chunk (AES-CTR of zeros). */
function bytes(n: number, seed: number): Buffer {
  const key = Buffer.alloc(16, seed);
  return createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(n));
}

const feedOf = (s: Readable): SharedFeed => (s as Readable & { [SHARED_FEED]: SharedFeed })[SHARED_FEED];

/** Take every chunk of `feed` (copying it), `delayMs` per chunk; fail after `failAfter` bytes. */
async function drain(feed: SharedFeed, got: Buffer[], delayMs = 0, failAfter = Infinity): Promise<void> {
  let n = 0;
  try {
    for (let c = await feed.next(); c; c = await feed.next()) {
      if (n >= failAfter) throw new Error('stick pulled');
      got.push(Buffer.from(c));
      n += c.length;
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      feed.written();
    }
  } finally {
    feed.leave();
  }
}

describe('SharedBlob', () => {
  it('reads once, hashes once, paces to the slowest stick and drops a failing one', async () => {
    const data = bytes(64 * MiB + 12345, 1);
    let produced = 0;
    let opens = 0;
    const blob = new SharedBlob({
      what: 'test blob',
      open: () => {
        opens++;
        let off = 0;
        return new Readable({
          read() {
            if (off >= data.length) return void this.push(null);
            const c = data.subarray(off, off + 65536);
            off += c.length;
            produced += c.length;
            this.push(c);
          },
        });
      },
    });
    const [fast, slow, failing] = [blob.branch(), blob.branch(), blob.branch()].map(feedOf);
    blob.start();
    const got: Buffer[][] = [[], [], []];
    let slowBytes = 0;
    let maxAhead = 0;
    const slowFeed: SharedFeed = {
      next: async () => {
        const c = await slow!.next();
        maxAhead = Math.max(maxAhead, produced - slowBytes);
        if (c) slowBytes += c.length;
        return c;
      },
      written: () => slow!.written(),
      leave: () => slow!.leave(),
      hashed: slow!.hashed,
    };
    const results = await Promise.allSettled([drain(fast!, got[0]!), drain(slowFeed, got[1]!, 5), drain(failing!, got[2]!, 0, 8 * MiB)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect(opens).toBe(1);
    expect(Buffer.concat(got[0]!).equals(data)).toBe(true);
    expect(Buffer.concat(got[1]!).equals(data)).toBe(true);
    // the pool: at most its 5 buffers of 4 MiB (and the stream's 64 KiB pieces) ahead of the slowest stick
    expect(maxAhead).toBeLessThanOrEqual(5 * 4 * MiB + 2 * 65536);
    const hashed = await fast!.hashed;
    expect(hashed).toEqual({ digest: `sha256:${sha(data)}`, size: data.length, chunks: chunkDigests(data) });
  });

  it('a failing source fails every stick', async () => {
    const blob = new SharedBlob({
      what: 'broken',
      open: () => Readable.from((async function* () {
        yield bytes(5 * MiB, 2);
        throw new Error('source gone');
      })()),
    });
    const feeds = [blob.branch(), blob.branch()].map(feedOf);
    blob.start();
    const results = await Promise.allSettled(feeds.map((f) => drain(f, [])));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    await expect(blob.hashed).rejects.toThrow('source gone');
  });
});

describe('shared writes through LayoutWriter', () => {
  let dirs: string[] = [];
  beforeEach(async () => {
    dirs = await Promise.all([0, 1].map((i) => fsp.mkdtemp(path.join(os.tmpdir(), `ferry-shared-blob-${i}-`))));
  });
  afterEach(async () => {
    for (const d of dirs) await fsp.rm(d, { recursive: true, force: true });
  });

  const noStream = (): Readable => {
    throw new Error('the stream was opened although a faster origin exists');
  };

  it('takes a file range or a ChunkSource instead of the stream, and every stick gets the bytes and chunk digests', async () => {
    const data = bytes(9 * MiB + 7, 3);
    const file = path.join(dirs[0]!, 'source.bin');
    await fsp.writeFile(file, Buffer.concat([Buffer.from('head'), data, Buffer.from('tail')]));
    const desc = { mediaType: 'application/octet-stream', digest: `sha256:${sha(data)}`, size: data.length };
    const inMemory = (): ChunkSource => {
      let off = 0;
      return { read: async (buf, len) => void (data.copy(buf, 0, off, off + len), (off += len)), close: async () => undefined };
    };
    for (const origin of [
      { what: 'ranged', open: noStream, range: async () => ({ file, start: 4, size: data.length }) },
      { what: 'chunked', open: noStream, chunks: inMemory, size: data.length },
    ]) {
      const sticks = await Promise.all(dirs.map((d) => LayoutWriter.create(path.join(d, origin.what))));
      const blob = new SharedBlob(origin);
      const branches = sticks.map(() => blob.branch());
      blob.start();
      const out = await Promise.all(sticks.map((w, i) => w.writeBlob(desc, () => branches[i]!)));
      for (const [i, w] of sticks.entries()) {
        await w.flush();
        expect(out[i]!.written).toBe(true);
        expect((await fsp.readFile(w.blobPath(desc.digest))).equals(data)).toBe(true);
        expect(await w.chunksOf(desc)).toEqual(chunkDigests(data));
      }
    }
  });

  it('a gzip layer gets its unpacked size from the read\'s member scan (trusted for one member only)', async () => {
    const raw = bytes(3 * MiB, 4);
    for (const [gz, unpacked] of [
      [gzipSync(raw), raw.length],
      [Buffer.concat([gzipSync(raw.subarray(0, MiB)), gzipSync(raw.subarray(MiB))]), null],
    ] as const) {
      const desc = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${sha(gz)}`, size: gz.length };
      const w = await LayoutWriter.create(path.join(dirs[0]!, `gz-${gz.length}`));
      const blob = new SharedBlob({ what: 'layer', open: () => Readable.from([gz]), scanGzip: true });
      const branch = blob.branch();
      blob.start();
      await w.writeBlob(desc, () => branch);
      await w.flush(); // synced and named in the background: done before the folder is removed
      expect(w.facts.unpackedOf(desc, 'gzip')).toBe(unpacked);
    }
  });
});
