import { createHash, randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LayerFeed, newRing } from '../../../src/device/extract/layer-feed.js';
import { FerryError } from '../../../src/errors.js';
import { TAILS } from '../../../src/oci/chunk-reader.js';
import type { Compression } from '../../../src/oci/types.js';

let tmp: string;
beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-layer-feed-'));
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

const CHUNK = 64 * 1024;
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Compressible content of `n` bytes (text with random runs), so the output spans several ring buffers. */
function content(n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let off = 0; off < n; off += 4096) {
    const piece = off % 8192 === 0 ? randomBytes(4096) : Buffer.from(`line ${off} `.repeat(400));
    piece.copy(out, off, 0, Math.min(4096, n - off));
  }
  return out;
}

function compress(c: Compression, raw: Buffer): Buffer {
  return c === 'gzip' ? gzipSync(raw) : c === 'zstd' ? zstdCompressSync(raw) : raw;
}

/** `blob` stored at offset 100 of a file, with its chunk digests (the signed index's view). */
async function stored(name: string, blob: Buffer, chunksOf: Buffer = blob): Promise<{ fh: fsp.FileHandle; chunks: string[]; digest: string }> {
  const file = path.join(tmp, name);
  await fsp.writeFile(file, Buffer.concat([Buffer.alloc(100, 7), blob]));
  const chunks: string[] = [];
  for (let off = 0; off < chunksOf.length; off += CHUNK) chunks.push(sha(chunksOf.subarray(off, off + CHUNK)));
  return { fh: await fsp.open(file, 'r'), chunks, digest: `sha256:${sha(chunksOf)}` };
}

/** Read a feed to its end the way the extractor does (each buffer released once used). */
async function drain(feed: LayerFeed, keep = true): Promise<Buffer> {
  const parts: Buffer[] = [];
  try {
    for (let p = await feed.next(); p !== undefined; p = await feed.next()) {
      if (keep) parts.push(Buffer.from(p.buf));
      feed.release(p.slot);
    }
  } finally {
    await feed.close();
  }
  return Buffer.concat(parts);
}

function start(s: { fh: fsp.FileHandle; chunks: string[]; digest: string }, size: number, compression: Compression, onRead: (n: number) => void = () => undefined, ring?: SharedArrayBuffer): LayerFeed {
  const feed = LayerFeed.start({ fh: s.fh, start: 100, size, digest: s.digest, chunks: s.chunks, chunkSize: CHUNK, compression, what: 'layer 1/1', tails: TAILS.stick }, onRead, ring);
  if (!feed) throw new Error('no worker thread');
  return feed;
}

describe('LayerFeed (a layer decompressed on the worker thread)', () => {
  for (const c of ['gzip', 'zstd', 'none'] as const) {
    it(`yields exactly the layer's bytes and their digest, reporting every verified byte (${c})`, async () => {
      const raw = content(3 * 1024 * 1024 + 123);
      const blob = compress(c, raw);
      const s = await stored(`ok-${c}`, blob);
      let read = 0;
      const feed = start(s, blob.length, c, (n) => (read += n));
      const out = await drain(feed);
      expect(out.equals(raw)).toBe(true);
      expect(feed.result()).toEqual({ diff: `sha256:${sha(raw)}`, bytes: raw.length });
      expect(read).toBe(blob.length);
    });
  }

  it('decompresses layers one after another into the one ring given, each exactly', async () => {
    const ring = newRing();
    for (const c of ['gzip', 'zstd'] as const) {
      const raw = content(2 * 1024 * 1024 + 7);
      const blob = compress(c, raw);
      const feed = start(await stored(`ring-${c}`, blob), blob.length, c, undefined, ring);
      const parts: Buffer[] = [];
      try {
        for (let p = await feed.next(); p !== undefined; p = await feed.next()) {
          expect(p.buf.buffer).toBe(ring);
          parts.push(Buffer.from(p.buf));
          feed.release(p.slot);
        }
      } finally {
        await feed.close();
      }
      expect(Buffer.concat(parts).equals(raw)).toBe(true);
    }
  });

  it('refuses a chunk that differs from the signed index with DIGEST_MISMATCH at that chunk, before decompressing it', async () => {
    const raw = content(1024 * 1024);
    const blob = compress('none', raw);
    const tampered = Buffer.from(blob);
    tampered[CHUNK + 5] ^= 1; // chunk 2
    const s = await stored('tampered', tampered, blob);
    const feed = start(s, blob.length, 'none');
    const parts: Buffer[] = [];
    const err = await (async () => {
      try {
        for (let p = await feed.next(); p !== undefined; p = await feed.next()) {
          parts.push(Buffer.from(p.buf));
          feed.release(p.slot);
        }
      } catch (e) {
        return e;
      } finally {
        await feed.close();
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(FerryError);
    expect((err as FerryError).code).toBe('DIGEST_MISMATCH');
    expect((err as FerryError).details).toMatchObject({ chunk: 1, expected: s.chunks[1], digest: s.digest });
    // nothing of the tampered chunk was passed on
    expect(Buffer.concat(parts).length).toBeLessThanOrEqual(CHUNK);
  });

  it('refuses verified chunks that do not make up the blob digest (DIGEST_MISMATCH at the end)', async () => {
    const blob = compress('gzip', content(300 * 1024));
    const s = await stored('whole', blob);
    const feed = start({ ...s, digest: `sha256:${'0'.repeat(64)}` }, blob.length, 'gzip');
    await expect(drain(feed)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH', details: { expected: `sha256:${'0'.repeat(64)}`, actual: s.digest } });
  });

  for (const c of ['gzip', 'zstd'] as const) {
    it(`refuses a truncated ${c} stream whose chunks are signed (CORRUPT_COMPRESSION)`, async () => {
      const full = compress(c, content(500 * 1024));
      const blob = full.subarray(0, full.length - 40);
      const s = await stored(`trunc-${c}`, blob);
      await expect(drain(start(s, blob.length, c))).rejects.toMatchObject({ code: 'CORRUPT_COMPRESSION' });
    });
  }

  it('reports a stick file shorter than the blob as SIZE_MISMATCH', async () => {
    const blob = compress('gzip', content(200 * 1024));
    const s = await stored('short', blob);
    await fsp.truncate(path.join(tmp, 'short'), 100 + blob.length - 10);
    await expect(drain(start(s, blob.length, 'gzip'))).rejects.toMatchObject({ code: 'SIZE_MISMATCH' });
  });

  it('stops a job that is read no further: close() resolves and the file is closed', async () => {
    const raw = content(4 * 1024 * 1024);
    const blob = compress('gzip', raw);
    const s = await stored('abort', blob);
    const feed = start(s, blob.length, 'gzip');
    const first = await feed.next();
    expect(first).toBeDefined();
    await feed.close(); // the ring is full and nothing is released: the worker waits, then stops
    await expect(s.fh.stat()).rejects.toMatchObject({ code: 'EBADF' });
    // the worker is free for the next layer
    const again = await stored('after-abort', blob);
    expect((await drain(start(again, blob.length, 'gzip'))).equals(raw)).toBe(true);
  });
});
