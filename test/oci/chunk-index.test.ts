import { createHash, randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChunkHasher, chunkCount, chunksOf, parseChunkIndex, serializeChunkIndex } from '../../src/oci/chunk-index.js';
import { readChunkVerified } from '../../src/oci/chunk-reader.js';
import { sha256Digest } from '../../src/oci/digest.js';

const CH = 64 * 1024;
let dir: string;
beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-chunks-'));
});
afterAll(() => fsp.rm(dir, { recursive: true, force: true }));

const hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');
function chunkList(b: Buffer, size = CH): string[] {
  const out: string[] = [];
  for (let o = 0; o < b.length; o += size) out.push(hex(b.subarray(o, o + size)));
  return out;
}

async function drain(s: NodeJS.ReadableStream): Promise<{ bytes: Buffer; error?: unknown }> {
  const got: Buffer[] = [];
  try {
    for await (const c of s) got.push(c as Buffer);
    return { bytes: Buffer.concat(got) };
  } catch (error) {
    return { bytes: Buffer.concat(got), error };
  }
}

describe('ChunkHasher', () => {
  it('gives the same chunk digests whatever the pieces it is fed, with a short last chunk and none for an empty blob', () => {
    const data = randomBytes(3 * CH + 1234);
    for (const piece of [1, 7, 4096, CH - 1, CH, CH + 1, data.length]) {
      const h = new ChunkHasher(CH);
      for (let o = 0; o < data.length; o += piece) h.update(data.subarray(o, o + piece));
      expect(h.finish()).toEqual(chunkList(data));
    }
    expect(new ChunkHasher(CH).finish()).toEqual([]);
    expect(chunkCount(0, CH)).toBe(0);
    expect(chunkCount(CH, CH)).toBe(1);
    expect(chunkCount(CH + 1, CH)).toBe(2);
  });
});

describe('parseChunkIndex', () => {
  const good = { schema: 'ferry.chunks/v1' as const, chunkSize: CH, blobs: { [sha256Digest(Buffer.from('x'))]: [hex(Buffer.from('x'))] } };
  it('round-trips through its canonical form', () => {
    expect(parseChunkIndex(JSON.parse(serializeChunkIndex(good).toString()))).toEqual(good);
  });
  it.each([
    ['another schema', { ...good, schema: 'ferry.chunks/v2' }],
    ['a chunk size that is not a power of two', { ...good, chunkSize: CH + 1 }],
    ['a tiny chunk size', { ...good, chunkSize: 512 }],
    ['a key that is not a digest', { ...good, blobs: { '../x': [] } }],
    ['a chunk digest that is not hex', { ...good, blobs: { [sha256Digest(Buffer.from('x'))]: ['zz'] } }],
    ['blobs that are a list', { ...good, blobs: [] }],
  ])('refuses %s with MANIFEST_INVALID', (_name, v) => {
    expect(() => parseChunkIndex(v)).toThrow(expect.objectContaining({ code: 'MANIFEST_INVALID' }));
  });
  it('refuses a layer the index does not cover, or whose chunk count does not match its signed size', () => {
    const idx = parseChunkIndex(good);
    const d = sha256Digest(Buffer.from('x'));
    expect(chunksOf(idx, { mediaType: 'x', digest: d, size: 1 }, 'layer 1')).toHaveLength(1);
    expect(() => chunksOf(idx, { mediaType: 'x', digest: d, size: CH + 1 }, 'layer 1')).toThrow(/2 chunks, but the index lists 1/);
    expect(() => chunksOf(idx, { mediaType: 'x', digest: sha256Digest(Buffer.from('y')), size: 1 }, 'layer 1')).toThrow(/does not cover layer 1/);
  });
});

describe('readChunkVerified', () => {
  const data = randomBytes(3 * CH + 99);
  const desc = { mediaType: 'application/octet-stream', digest: sha256Digest(data), size: data.length };
  const at = (file: string) => async () => ({ file, start: 0, size: (await fsp.stat(file)).size });

  it('streams a good blob unchanged', async () => {
    const f = path.join(dir, 'good');
    await fsp.writeFile(f, data);
    const r = await drain(readChunkVerified(at(f), desc, chunkList(data), CH, 'blob'));
    expect(r.error).toBeUndefined();
    expect(r.bytes.equals(data)).toBe(true);
  });

  it.each([
    ['the first', 0],
    ['a middle', 1],
    ['the last', 3],
  ])('stops at %s tampered chunk before emitting a byte of it', async (_name, k) => {
    const bad = Buffer.from(data);
    bad[k * CH + 17] ^= 0xff;
    const f = path.join(dir, `bad-${k}`);
    await fsp.writeFile(f, bad);
    const r = await drain(readChunkVerified(at(f), desc, chunkList(data), CH, 'blob'));
    expect(r.error).toMatchObject({ code: 'DIGEST_MISMATCH', details: { chunk: k } });
    expect(r.bytes.length).toBe(k * CH); // exactly the chunks before it, all verified
    expect(r.bytes.equals(data.subarray(0, k * CH))).toBe(true);
  });

  it('refuses, at the end, chunks that match the index but not the blob digest (a signer cannot store other bytes under a digest)', async () => {
    const other = randomBytes(data.length);
    const f = path.join(dir, 'other');
    await fsp.writeFile(f, other);
    const r = await drain(readChunkVerified(at(f), desc, chunkList(other), CH, 'blob'));
    expect(r.error).toMatchObject({ code: 'DIGEST_MISMATCH', details: { expected: desc.digest } });
  });

  it('refuses a blob of another size before reading it, and a symlink or a FIFO as UNSAFE_MEDIA without blocking', async () => {
    const short = path.join(dir, 'short');
    await fsp.writeFile(short, data.subarray(0, 10));
    expect((await drain(readChunkVerified(at(short), desc, chunkList(data), CH, 'blob'))).error).toMatchObject({ code: 'SIZE_MISMATCH' });
    const good = path.join(dir, 'good2');
    await fsp.writeFile(good, data);
    const link = path.join(dir, 'link');
    await fsp.symlink(good, link);
    expect((await drain(readChunkVerified(async () => ({ file: link, start: 0, size: data.length, under: dir }), desc, chunkList(data), CH, 'blob'))).error).toMatchObject({ code: 'UNSAFE_MEDIA' });
    const fifo = path.join(dir, 'fifo');
    const { execFileSync } = await import('node:child_process');
    execFileSync('mkfifo', [fifo]);
    expect((await drain(readChunkVerified(async () => ({ file: fifo, start: 0, size: data.length }), desc, chunkList(data), CH, 'blob'))).error).toMatchObject({ code: 'UNSAFE_MEDIA' });
  });
});
