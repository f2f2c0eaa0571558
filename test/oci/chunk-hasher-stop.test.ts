/**
 * The hashing worker dies in the middle of a blob hashed `split` (chunks there, the whole blob on
 * the copy's thread): the blob must fail, not be named with a chunk list it does not have, and the
 * next blob is hashed whole on the copy's thread. Its own file: the worker of this test process is
 * gone afterwards (vitest runs each file in a process of its own).
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LayoutWriter } from '../../src/oci/blob-store.js';
import { warmChunkHasher } from '../../src/oci/chunk-hasher-parallel.js';
import { ChunkHasher, DEFAULT_CHUNK_SIZE } from '../../src/oci/chunk-index.js';
import { sha256Digest } from '../../src/oci/digest.js';
import { isFerryError } from '../../src/errors.js';
import { tempDir } from '../media/fixtures.js';

let dir: string;
beforeAll(async () => {
  dir = await tempDir('ferry-hasher-stop-');
});
afterAll(() => fsp.rm(dir, { recursive: true, force: true }));

describe('a split-hashed blob copy whose hashing worker stops', () => {
  it('fails and leaves no blob and no temp file; the next copy hashes here and is right', async () => {
    const blob = randomBytes(8 * DEFAULT_CHUNK_SIZE + 12345); // more than a chunk: hashed split
    const src = path.join(dir, 'src.bin');
    await fsp.writeFile(src, blob);
    const desc = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256Digest(blob), size: blob.length };
    const root = path.join(dir, 'layout');
    const w = await LayoutWriter.create(root);
    const worker = warmChunkHasher();
    expect(worker).toBeDefined();
    let stopped: Promise<number> | undefined;
    // the first progress event comes after 4 MiB of the 32 MiB: the worker ends mid-blob
    const progress = (): void => void (stopped ??= worker!.terminate());
    const failed = await w.writeBlobFromRange(desc, { file: src, start: 0, size: blob.length }, { progress }).then(() => undefined, (e: unknown) => e);
    expect(isFerryError(failed)).toBe(true);
    expect(String((failed as Error).message)).toMatch(/hashing thread (stopped|exited)/);
    expect(stopped).toBeDefined();
    await stopped;
    await w.flush();
    expect(await fsp.readdir(path.join(root, 'blobs', 'sha256'))).toEqual([]);

    expect(warmChunkHasher()).toBeUndefined(); // never restarted once it failed
    const again = await w.writeBlobFromRange(desc, { file: src, start: 0, size: blob.length }, { needChunks: true });
    expect(again.written).toBe(true);
    await w.flush();
    const ref = new ChunkHasher(DEFAULT_CHUNK_SIZE);
    ref.update(blob);
    expect(await w.chunksOf(desc)).toEqual(ref.finish());
    expect(createHash('sha256').update(await fsp.readFile(w.blobPath(desc.digest))).digest('hex')).toBe(desc.digest.slice(7));
  });
});
