import { createHash, randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChunkHasher } from '../../src/oci/chunk-index.js';
import { ChunkDigester } from '../../src/oci/chunk-hasher-parallel.js';
import { sha256Digest } from '../../src/oci/digest.js';
import { copyRangeVerified } from '../../src/oci/range-copy.js';
import { tempDir } from '../media/fixtures.js';

let dir: string;
beforeAll(async () => {
  dir = await tempDir('ferry-range-copy-');
});
afterAll(() => fsp.rm(dir, { recursive: true, force: true }));

describe('copyRangeVerified with chunks larger than one write', () => {
  it('writes every chunk in pieces, in order, with the same chunk digests', async () => {
    const CH = 1024 * 1024;
    // chunks of 4 write pieces each and a last short chunk
    const data = randomBytes(9 * CH + 123_457);
    const src = path.join(dir, 'src.bin');
    await fsp.writeFile(src, data);
    const desc = { mediaType: 'application/octet-stream', digest: sha256Digest(data), size: data.length };
    const chunks = new ChunkDigester(CH, 3);
    const dest = path.join(dir, 'copy.bin');
    await copyRangeVerified({ file: src, start: 0, size: data.length }, dest, desc, 'blob', chunks);
    const ref = new ChunkHasher(CH);
    ref.update(data);
    expect(await chunks.finish()).toEqual(ref.finish());
    expect(createHash('sha256').update(await fsp.readFile(dest)).digest('hex')).toBe(desc.digest.slice(7));
  });

  it.each(['worker', 'here'] as const)('copies in pieces smaller than a chunk (the export copy: 1 MiB buffers of 4 MiB chunks) with the same chunk and whole digests, hashed %s', async (thread) => {
    const CH = 4 * 1024 * 1024;
    for (const size of [3 * CH + 2 * 1024 * 1024, 2 * CH + 777, CH]) {
      const data = randomBytes(size);
      const src = path.join(dir, `src-${thread}-${size}.bin`);
      await fsp.writeFile(src, data);
      const desc = { mediaType: 'application/octet-stream', digest: sha256Digest(data), size };
      const chunks = new ChunkDigester(CH, 4, false, true, true, 1024 * 1024, thread);
      const dest = path.join(dir, `pieces-${thread}-${size}.bin`);
      await copyRangeVerified({ file: src, start: 0, size }, dest, desc, 'blob', chunks);
      const ref = new ChunkHasher(CH);
      ref.update(data);
      expect(await chunks.finish()).toEqual(ref.finish());
      expect((await fsp.readFile(dest)).equals(data)).toBe(true);
    }
  });

  it.each(['worker', 'here'] as const)('refuses a copy whose bytes do not match the digest, hashed in pieces %s, and leaves no file', async (thread) => {
    const data = randomBytes(3 * 1024 * 1024 + 5);
    const src = path.join(dir, `bad-${thread}.bin`);
    await fsp.writeFile(src, data);
    const desc = { mediaType: 'application/octet-stream', digest: sha256Digest(Buffer.concat([data.subarray(0, -1), Buffer.from([data.at(-1)! ^ 1])])), size: data.length };
    const dest = path.join(dir, `bad-copy-${thread}.bin`);
    await expect(copyRangeVerified({ file: src, start: 0, size: data.length }, dest, desc, 'blob', new ChunkDigester(4 * 1024 * 1024, 4, false, true, true, 1024 * 1024, thread))).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    await expect(fsp.access(dest)).rejects.toThrow();
  });
});
