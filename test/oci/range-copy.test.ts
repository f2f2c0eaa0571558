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
});
