import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFerryError } from '../../src/errors.js';
import { LayoutWriter } from '../../src/oci/blob-store.js';
import { sha256Digest } from '../../src/oci/digest.js';
import { OciLayout } from '../../src/oci/layout.js';
import { tempDir } from '../media/fixtures.js';

let dir: string;
beforeAll(async () => {
  dir = await tempDir('ferry-blobstore-');
});
afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

const bytes = Buffer.from('some blob bytes');
const desc = { mediaType: 'application/octet-stream', digest: sha256Digest(bytes), size: bytes.length };

describe('LayoutWriter', () => {
  it('creates a layout that OciLayout opens, with an empty index until images are added', async () => {
    const w = await LayoutWriter.create(path.join(dir, 'a'));
    expect((await w.readIndex()).manifests).toEqual([]);
    await w.addToIndex([]);
    expect((await (await OciLayout.open(path.join(dir, 'a'))).readIndex()).manifests).toEqual([]);
  });

  it('writes a verified blob once and skips it the second time', async () => {
    const w = await LayoutWriter.create(path.join(dir, 'b'));
    expect((await w.writeBlob(desc, () => Readable.from([bytes]))).written).toBe(true);
    expect((await w.writeBlob(desc, () => Readable.from([bytes]))).written).toBe(false);
    expect(await fsp.readFile(w.blobPath(desc.digest))).toEqual(bytes);
  });

  it('refuses bytes that do not match the descriptor and leaves no file', async () => {
    const w = await LayoutWriter.create(path.join(dir, 'c'));
    await expect(w.writeBlob(desc, () => Readable.from([Buffer.from('other bytes, same ')]))).rejects.toSatisfy((e: unknown) => isFerryError(e) && ['DIGEST_MISMATCH', 'SIZE_MISMATCH'].includes(e.code));
    await expect(w.writeBlobFromRange(desc, { file: __filename, start: 0, size: desc.size }, {})).rejects.toSatisfy((e: unknown) => isFerryError(e, 'DIGEST_MISMATCH'));
    expect(await fsp.readdir(path.join(dir, 'c', 'blobs', 'sha256'))).toEqual([]);
  });

  it('names a streamed blob by its digest and replaces index entries of the same ref', async () => {
    const w = await LayoutWriter.create(path.join(dir, 'd'));
    const r = await w.writeStream(Readable.from([bytes]), [], 'application/octet-stream', 'blob');
    expect(r.descriptor).toEqual(desc);
    const entry = (ref: string, d = desc) => ({ ...d, annotations: { 'org.opencontainers.image.ref.name': ref } });
    await w.addToIndex([entry('a-1.0.0'), entry('a-2.0.0')]);
    const other = await w.writeBytes(Buffer.from('{}'), 'application/octet-stream');
    await w.addToIndex([entry('a-1.0.0', other.descriptor)]);
    const idx = await w.readIndex();
    expect(idx.manifests.map((m) => [m.annotations!['org.opencontainers.image.ref.name'], m.digest])).toEqual([
      ['a-2.0.0', desc.digest],
      ['a-1.0.0', other.descriptor.digest],
    ]);
  });
});

describe('LayoutWriter background commits', () => {
  it('names a range-copied blob only once it is synced; flush waits for it, and index.json waits for flush', async () => {
    const big = Buffer.alloc(9 * 1024 * 1024, 7);
    const d = { mediaType: 'application/octet-stream', digest: sha256Digest(big), size: big.length };
    const src = path.join(dir, 'big.bin');
    await fsp.writeFile(src, big);
    const w = await LayoutWriter.create(path.join(dir, 'bg'));
    expect((await w.writeBlobFromRange(d, { file: src, start: 0, size: big.length })).written).toBe(true);
    // the same blob again waits for the first commit instead of copying it twice
    expect((await w.writeBlobFromRange(d, { file: src, start: 0, size: big.length })).written).toBe(false);
    await w.flush();
    expect((await fsp.readFile(w.blobPath(d.digest))).equals(big)).toBe(true);
    expect((await fsp.readdir(path.join(dir, 'bg', 'blobs', 'sha256'))).filter((n) => n.startsWith('.ferry-tmp'))).toEqual([]);
  });

  it('tells the journal of a blob before it gets its final name (a Ctrl-C between rename and callback still removes it)', async () => {
    const big = Buffer.alloc(5 * 1024 * 1024, 3);
    const d = { mediaType: 'application/octet-stream', digest: sha256Digest(big), size: big.length };
    const src = path.join(dir, 'big3.bin');
    await fsp.writeFile(src, big);
    const w = await LayoutWriter.create(path.join(dir, 'bg-order'));
    const told: { file: string; existed: boolean }[] = [];
    w.onWrite = (file) => void told.push({ file, existed: fs.existsSync(file) });
    await w.writeBlobFromRange(d, { file: src, start: 0, size: big.length });
    await w.writeBlob({ ...d, digest: sha256Digest(Buffer.from('small')), size: 5 }, () => Readable.from([Buffer.from('small')]));
    await w.flush();
    // the range copy commits in the background, so the two may be told in either order
    expect([...told].sort((a, b) => a.file.localeCompare(b.file))).toEqual(
      [w.blobPath(d.digest), w.blobPath(sha256Digest(Buffer.from('small')))].sort().map((file) => ({ file, existed: false })),
    );
    for (const t of told) expect(fs.existsSync(t.file)).toBe(true);
  });

  it('syncs and names small blobs in the background when asked: flush waits for them, a failed one shows at flush', async () => {
    const root = path.join(dir, 'bg-small');
    const w = await LayoutWriter.create(root);
    const config = Buffer.from('{"config":1}');
    const cd = await w.writeBytes(config, 'application/vnd.oci.image.config.v1+json', { background: true });
    const md = await w.writeBlob(desc, () => Readable.from([bytes]), { background: true });
    expect([cd.written, md.written]).toEqual([true, true]);
    // the same blob again waits for its commit instead of writing it twice
    expect((await w.writeBytes(config, 'application/vnd.oci.image.config.v1+json', { background: true })).written).toBe(false);
    await w.flush();
    expect((await fsp.readFile(w.blobPath(cd.descriptor.digest))).equals(config)).toBe(true);
    expect((await fsp.readFile(w.blobPath(desc.digest))).equals(bytes)).toBe(true);
    expect((await fsp.readdir(path.join(root, 'blobs', 'sha256'))).filter((n) => n.startsWith('.ferry-tmp'))).toEqual([]);

    const failing = await LayoutWriter.create(path.join(dir, 'bg-small-fail'));
    failing.onWrite = () => {
      throw new Error('journal write failed');
    };
    expect((await failing.writeBytes(Buffer.from('manifest'), 'application/vnd.oci.image.manifest.v1+json', { background: true })).written).toBe(true);
    await expect(failing.addToIndex([])).rejects.toThrow(/journal write failed/);
    expect(await fsp.readdir(path.join(dir, 'bg-small-fail', 'blobs', 'sha256'))).toEqual([]); // neither named nor left as a temp
  });

  it('gives the chunk digests of a blob whose commit is still running, from its copy', async () => {
    const big = Buffer.alloc(6 * 1024 * 1024, 5);
    const d = { mediaType: 'application/octet-stream', digest: sha256Digest(big), size: big.length };
    const src = path.join(dir, 'big4.bin');
    await fsp.writeFile(src, big);
    const w = await LayoutWriter.create(path.join(dir, 'bg-chunks'));
    await w.writeBlobFromRange(d, { file: src, start: 0, size: big.length });
    const four = sha256Digest(big.subarray(0, 4 * 1024 * 1024)).slice('sha256:'.length);
    const two = sha256Digest(big.subarray(4 * 1024 * 1024)).slice('sha256:'.length);
    expect(await w.chunksOf(d)).toEqual([four, two]);
    await w.flush();
  });

  it('reports a failed background commit at flush and at addToIndex', async () => {
    const big = Buffer.alloc(5 * 1024 * 1024, 9);
    const d = { mediaType: 'application/octet-stream', digest: sha256Digest(big), size: big.length };
    const src = path.join(dir, 'big2.bin');
    await fsp.writeFile(src, big);
    const root = path.join(dir, 'bg-fail');
    const w = await LayoutWriter.create(root);
    // the journal hook runs inside the commit: a failure there is a failed commit
    w.onWrite = () => {
      throw new Error('journal write failed');
    };
    expect((await w.writeBlobFromRange(d, { file: src, start: 0, size: big.length })).written).toBe(true);
    await expect(w.flush()).rejects.toThrow(/journal write failed/);
    await expect(w.addToIndex([])).rejects.toThrow(/journal write failed/);
    expect(JSON.parse(await fsp.readFile(path.join(root, 'index.json'), 'utf8')).manifests).toEqual([]);
    await w.settle(); // does not throw
  });
});
