/**
 * The export's file index from layers decompressed on the inflate worker (a ring of reused
 * buffers, chunk-checked) equals the one from node:zlib streams, and a chunk list that does
 * not match the blob is refused, never trusted.
 */
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildImageFileIndex } from '../../src/media/file-index-writer.js';
import { DEFAULT_CHUNK_SIZE } from '../../src/oci/chunk-index.js';
import type { Descriptor } from '../../src/oci/types.js';
import { tarArchive, writeTestLayout } from '../helpers/layers.js';

let tmp: string;
beforeEach(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-file-index-writer-'));
});
afterEach(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

async function chunkList(file: string): Promise<string[]> {
  const bytes = await fsp.readFile(file);
  const out: string[] = [];
  for (let o = 0; o < bytes.length; o += DEFAULT_CHUNK_SIZE) out.push(createHash('sha256').update(bytes.subarray(o, o + DEFAULT_CHUNK_SIZE)).digest('hex'));
  return out;
}

describe('buildImageFileIndex', () => {
  it('gives the same index from the inflate worker as from streams, over layers with whiteouts and several chunks', async () => {
    const big = Buffer.alloc(9 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4) big.writeUInt32LE((i * 2654435761) >>> 0, i); // poorly compressible: the gzip blob spans chunks
    const lower = tarArchive([{ name: 'a/x', data: 'x' }, { name: 'b/big', data: big }, { name: 'c/y', data: 'y' }]);
    const upper = tarArchive([{ name: 'a/.wh.x' }, { name: 'c/z', data: 'z' }]);
    const dir = path.join(tmp, 'oci');
    const { layout, image } = await writeTestLayout(dir, [{ tar: lower }, { tar: upper, compression: 'zstd' }]);
    const layers = image.manifest.layers;
    const file = (d: Descriptor): string => path.join(dir, 'blobs', 'sha256', d.digest.slice(7));
    expect((await chunkList(file(layers[0]!))).length).toBeGreaterThan(1);
    const digest = image.manifestDescriptor.digest;
    const viaStreams = await buildImageFileIndex(layout, layers, digest);
    let asked = 0;
    const viaWorker = await buildImageFileIndex(layout, layers, digest, undefined, async (d) => (asked++, chunkList(file(d))));
    expect(asked).toBe(layers.length);
    expect(viaWorker).toEqual(viaStreams);
    expect(viaWorker.entries.map((e) => e.path)).toEqual(['b/big', 'c/y', 'c/z']);
  });

  it('refuses a layer whose bytes do not match the chunk list', async () => {
    const { layout, image } = await writeTestLayout(path.join(tmp, 'oci'), [{ tar: tarArchive([{ name: 'f', data: 'f' }]) }]);
    const wrong = async (): Promise<string[]> => ['0'.repeat(64)];
    await expect(buildImageFileIndex(layout, image.manifest.layers, image.manifestDescriptor.digest, undefined, wrong)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
  });
});
