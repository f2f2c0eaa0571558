import { createHash, randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChunkHasher } from '../../src/oci/chunk-index.js';
import { ChunkDigester } from '../../src/oci/chunk-hasher-parallel.js';
import { sha256Digest } from '../../src/oci/digest.js';
import { copyRangeVerified } from '../../src/oci/range-copy.js';
import { EarlyWriteback, WRITEBACK_STEP } from '../../src/oci/writeback.js';
import { tempDir } from '../media/fixtures.js';

let dir: string;
beforeAll(async () => {
  dir = await tempDir('ferry-writeback-');
});
afterAll(() => fsp.rm(dir, { recursive: true, force: true }));

describe('EarlyWriteback', () => {
  it('syncs in the background once a step is written, and settle() waits for it', async () => {
    const fh = await fsp.open(path.join(dir, 'a'), 'w');
    const wb = new EarlyWriteback(fh, 4096);
    await fh.write(Buffer.alloc(4096, 1));
    wb.wrote(4096);
    await wb.settle();
    await fh.close();
    expect((await fsp.stat(path.join(dir, 'a'))).size).toBe(4096);
  });

  it('reports a failed sync from settle(), so the copy that started it fails', async () => {
    const fh = await fsp.open(path.join(dir, 'b'), 'w');
    await fh.close(); // a closed handle: its datasync fails (EBADF), as a sync with an I/O error would
    const wb = new EarlyWriteback(fh, 1);
    wb.wrote(1);
    await expect(wb.settle()).rejects.toThrow();
  });

  it('starts nothing below a step', async () => {
    const fh = await fsp.open(path.join(dir, 'c'), 'w');
    await fh.close();
    const wb = new EarlyWriteback(fh, WRITEBACK_STEP);
    wb.wrote(WRITEBACK_STEP - 1); // a sync here would fail on the closed handle
    await expect(wb.settle()).resolves.toBeUndefined();
  });
});

describe('copyRangeVerified with chunks larger than one write', () => {
  it('writes every chunk in pieces, in order, and past a writeback step', async () => {
    const CH = 1024 * 1024;
    // 40 MiB + a tail: chunks of 4 write pieces each, a last short chunk, and more than one writeback step
    const data = randomBytes(40 * CH + 123_457);
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
