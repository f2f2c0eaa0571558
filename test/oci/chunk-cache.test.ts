import { createHash, randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LayoutWriter } from '../../src/oci/blob-store.js';
import { defaultChunkCacheDir, openChunkCache } from '../../src/oci/chunk-cache.js';
import { ChunkHasher, DEFAULT_CHUNK_SIZE } from '../../src/oci/chunk-index.js';
import { ChunkDigester } from '../../src/oci/chunk-hasher-parallel.js';
import { copyRangeVerified } from '../../src/oci/range-copy.js';
import { isFerryError } from '../../src/errors.js';
import { sha256Digest } from '../../src/oci/digest.js';
import { gzipSync } from 'node:zlib';
import { hasMemberHeader, unpackedSizeOfBlob } from '../../src/oci/unpacked-size.js';
import { tempDir } from '../media/fixtures.js';

const CH = 64 * 1024;
let dir: string;
beforeAll(async () => {
  dir = await tempDir('ferry-chunk-cache-');
});
afterAll(() => fsp.rm(dir, { recursive: true, force: true }));

const hex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
function chunkList(b: Buffer, size: number): string[] {
  const out: string[] = [];
  for (let o = 0; o < b.length; o += size) out.push(hex(b.subarray(o, o + size)));
  return out;
}

describe('copyRangeVerified with a ChunkDigester', () => {
  const data = randomBytes(5 * CH + 777);
  const desc = { mediaType: 'application/octet-stream', digest: sha256Digest(data), size: data.length };
  let src: string;
  beforeAll(async () => {
    // the blob sits at an offset inside a bigger file, as a member of an archive does
    src = path.join(dir, 'archive.bin');
    await fsp.writeFile(src, Buffer.concat([randomBytes(1000), data, randomBytes(300)]));
  });

  it('copies the bytes and gives the chunk digests of ChunkHasher, whatever the number of buffers', async () => {
    const ref = new ChunkHasher(CH);
    ref.update(data);
    const want = ref.finish();
    for (const buffers of [1, 2, 6]) {
      const dest = path.join(dir, `copy-${buffers}`);
      const chunks = new ChunkDigester(CH, buffers);
      let counted = 0;
      await copyRangeVerified({ file: src, start: 1000, size: data.length }, dest, desc, 'blob', chunks, (n) => (counted += n));
      expect(await chunks.finish()).toEqual(want);
      expect((await fsp.readFile(dest)).equals(data)).toBe(true);
      expect(counted).toBe(data.length);
    }
    // as the layout writer copies: the whole digest asked of the digester, pieces of half a chunk,
    // hashed on the worker, here, or split (chunks on the worker, the whole blob here)
    for (const thread of ['worker', 'here', 'split'] as const) {
      const dest = path.join(dir, `copy-${thread}`);
      const chunks = new ChunkDigester(CH, 3, false, true, true, CH / 2, thread);
      await copyRangeVerified({ file: src, start: 1000, size: data.length }, dest, desc, 'blob', chunks);
      expect({ thread, chunks: await chunks.finish() }).toEqual({ thread, chunks: want });
      expect((await fsp.readFile(dest)).equals(data)).toBe(true);
    }
    const empty = new ChunkDigester(CH);
    await copyRangeVerified({ file: src, start: 0, size: 0 }, path.join(dir, 'copy-empty'), { ...desc, digest: sha256Digest(Buffer.alloc(0)), size: 0 }, 'blob', empty);
    expect(await empty.finish()).toEqual([]);
  });

  it('refuses wrong bytes and a short source, leaves no file and no buffer behind', async () => {
    for (const [range, code] of [
      [{ file: src, start: 999, size: data.length }, 'DIGEST_MISMATCH'],
      [{ file: src, start: 1000 + 300 + 2, size: data.length }, 'CORRUPT_ARCHIVE'],
    ] as const) {
      for (const chunks of [new ChunkDigester(CH, 2), new ChunkDigester(CH, 2, false, true, true, CH / 2, 'split')]) {
        const dest = path.join(dir, `bad-${code}`);
        await expect(copyRangeVerified(range, dest, desc, 'blob', chunks)).rejects.toSatisfy((e: unknown) => isFerryError(e, code));
        await expect(fsp.access(dest)).rejects.toThrow();
        await chunks.finish();
        // every buffer came back: two can be taken again at once
        const a = await chunks.acquire();
        const b = await chunks.acquire();
        expect([a.length, b.length]).toEqual([chunks.pieceSize, chunks.pieceSize]);
      }
    }
  });
});

describe('ChunkDigester gzip scan', () => {
  /** Feed `data` chunk by chunk, as copyRangeVerified does. */
  async function scan(data: Buffer): Promise<boolean | undefined> {
    const d = new ChunkDigester(CH, 2, true);
    for (let o = 0; o < data.length; o += CH) {
      const buf = await d.acquire();
      const n = data.copy(buf, 0, o, Math.min(o + CH, data.length));
      d.submit(buf, n);
    }
    await d.finish();
    return d.maybeMultiMember();
  }
  const header = Buffer.from([0x1f, 0x8b, 0x08, 0x00]);

  it('finds a gzip member header anywhere after offset 0, also across a chunk boundary, as the whole-blob scan does', async () => {
    for (const at of [0, 1, 100, CH - 4, CH - 3, CH - 2, CH - 1, CH, 2 * CH - 2, 3 * CH + 10 - 4]) {
      const data = Buffer.alloc(3 * CH + 10, 0x41);
      header.copy(data, at);
      expect({ at, found: await scan(data) }).toEqual({ at, found: hasMemberHeader(data, 1) });
      expect(hasMemberHeader(data, 1)).toBe(at !== 0);
    }
    // a header cut off by the end of the blob is no header
    const cut = Buffer.alloc(2 * CH, 0x41);
    header.copy(cut, 2 * CH - 3, 0, 3);
    expect(await scan(cut)).toBe(false);
    // no scan asked: no answer
    expect(new ChunkDigester(CH).maybeMultiMember()).toBeUndefined();
  });

  it('gives a layout writer the unpacked size of a copied gzip layer from the same read', async () => {
    const tar = randomBytes(3 * CH);
    const one = gzipSync(tar);
    const two = Buffer.concat([gzipSync(tar.subarray(0, CH)), gzipSync(tar.subarray(CH))]);
    for (const [name, blob, want] of [['one', one, tar.length], ['two', two, undefined]] as const) {
      const src = path.join(dir, `${name}.gz`);
      await fsp.writeFile(src, blob);
      const d = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256Digest(blob), size: blob.length };
      const w = await LayoutWriter.create(path.join(dir, `unpacked-${name}`));
      await w.writeBlobFromRange(d, { file: src, start: 0, size: blob.length }, { scanGzip: true });
      await w.flush(); // synced and named in the background
      expect(w.facts.unpackedOf(d, 'gzip')).toBe(want ?? null);
      expect(await w.unpackedSize(d, 'gzip')).toBe(await unpackedSizeOfBlob(w.blobPath(d.digest), 'gzip'));
    }
  });
});

describe('chunk cache', () => {
  const blob = randomBytes(2 * DEFAULT_CHUNK_SIZE + 10);
  const desc = { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256Digest(blob), size: blob.length };
  const chunks = chunkList(blob, DEFAULT_CHUNK_SIZE);

  it('returns what was put, and nothing for another digest, size or chunk size', async () => {
    const cache = openChunkCache(path.join(dir, 'c1'));
    expect(await cache.get(desc)).toBeUndefined();
    await cache.put(desc, { chunks });
    expect(await cache.get(desc)).toEqual({ chunks });
    await cache.put(desc, { chunks, unpacked: { compression: 'gzip', bytes: null } });
    expect(await cache.get(desc)).toEqual({ chunks, unpacked: { compression: 'gzip', bytes: null } });
    expect(await cache.get({ ...desc, size: desc.size + 1 })).toBeUndefined();
    expect(await cache.get({ ...desc, digest: sha256Digest(Buffer.from('x')) })).toBeUndefined();
    expect(await cache.get(desc, 1024 * 1024)).toBeUndefined();
    expect((await fsp.stat(path.join(dir, 'c1'))).mode & 0o777).toBe(0o700);
  });

  it('treats a damaged, foreign or oversized entry as a miss and refuses to store a list of the wrong length', async () => {
    const root = path.join(dir, 'c2');
    const cache = openChunkCache(root);
    await cache.put(desc, { chunks: chunks.slice(1) });
    expect(await cache.get(desc)).toBeUndefined();
    await cache.put(desc, { chunks });
    const file = path.join(root, 'chunks', String(DEFAULT_CHUNK_SIZE), 'sha256', `${desc.digest.slice(7)}.json`);
    const good = await fsp.readFile(file, 'utf8');
    for (const bad of [
      good.slice(0, -5),
      good.replace(chunks[0]!, 'z'.repeat(64)),
      good.replace(`"size":${desc.size}`, `"size":${desc.size - 1}`),
      JSON.stringify({ ...JSON.parse(good), chunks: [...chunks, chunks[0]] }),
      good + ' '.repeat(10_000),
    ]) {
      await fsp.writeFile(file, bad);
      expect(await cache.get(desc)).toBeUndefined();
    }
  });

  it('lives in FERRY_CACHE_DIR, else XDG_CACHE_HOME/ferry, else ~/.cache/ferry', () => {
    expect(defaultChunkCacheDir({ FERRY_CACHE_DIR: '/x/y', XDG_CACHE_HOME: '/c', HOME: '/h' })).toBe('/x/y');
    expect(defaultChunkCacheDir({ XDG_CACHE_HOME: '/c', HOME: '/h' })).toBe('/c/ferry');
    expect(defaultChunkCacheDir({ XDG_CACHE_HOME: 'relative', HOME: '/h' })).toBe('/h/.cache/ferry');
    expect(defaultChunkCacheDir({ HOME: '/h' })).toBe('/h/.cache/ferry');
  });

  it('gives a layout writer the chunks of a present blob without reading it; without the cache the blob is read and a damaged copy replaced', async () => {
    const cacheDir = path.join(dir, 'c3');
    const src = path.join(dir, 'layer.bin');
    await fsp.writeFile(src, blob);
    const first = await LayoutWriter.create(path.join(dir, 'layout'));
    first.chunkCache = openChunkCache(cacheDir);
    expect((await first.writeBlobFromRange(desc, { file: src, start: 0, size: blob.length }, { needChunks: true })).written).toBe(true);
    await first.flush();
    await first.facts.persist(desc); // export does this for every layer
    expect(await first.chunksOf(desc)).toEqual(chunks);
    // the copy on the stick is damaged in place (same size): the cache is never fed from the stick
    const onStick = first.blobPath(desc.digest);
    const fh = await fsp.open(onStick, 'r+');
    await fh.write(Buffer.from('XXXX'), 0, 4, DEFAULT_CHUNK_SIZE + 3);
    await fh.close();

    const cached = await LayoutWriter.create(path.join(dir, 'layout'));
    cached.chunkCache = openChunkCache(cacheDir);
    expect((await cached.writeBlobFromRange(desc, { file: src, start: 0, size: blob.length }, { needChunks: true })).written).toBe(false);
    // the chunk list is the one of the signed digest's real bytes, not of the damaged copy
    expect(await cached.chunksOf(desc)).toEqual(chunks);
    expect(hex(await fsp.readFile(onStick))).not.toBe(desc.digest.slice(7));

    const uncached = await LayoutWriter.create(path.join(dir, 'layout'));
    expect((await uncached.writeBlobFromRange(desc, { file: src, start: 0, size: blob.length }, { needChunks: true })).written).toBe(true);
    await uncached.flush();
    expect(uncached.repaired).toEqual([desc.digest]);
    expect(hex(await fsp.readFile(onStick))).toBe(desc.digest.slice(7));
  });
});
