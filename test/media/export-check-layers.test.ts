import { spawnSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES, isFerryError } from '../../src/errors.js';
import { exportImage, type ExportRequest } from '../../src/media/export.js';
import { verifyMediaBlobs } from '../../src/media/verify.js';
import { buildSamplesInTemp, type SampleImages } from '../helpers/samples.js';
import { gzipLayer, mediaState, putImage, putIndex, type RawBlob, sha, tempDir, tinyLayerTar } from './fixtures.js';

let s: SampleImages & { dir: string };
let dir: string;
let n = 0;

beforeAll(async () => {
  s = await buildSamplesInTemp();
  dir = await tempDir('ferry-check-layers-');
});
afterAll(async () => {
  await fsp.rm(s.dir, { recursive: true, force: true });
  await fsp.rm(dir, { recursive: true, force: true });
});

const ref = { 'org.opencontainers.image.ref.name': 'bad' };
const GZ = 'application/vnd.oci.image.layer.v1.tar+gzip';

/** An oci: layout with one image of these raw layers and diff_ids (digests consistent with the bytes unless a layer claims otherwise). */
async function layoutOf(layers: RawBlob[], diffIds: string[]): Promise<string> {
  const l = path.join(dir, `src${n++}`);
  await putIndex(l, [{ ...(await putImage(l, { layers, diffIds })), annotations: ref }]);
  return `oci:${l}:bad`;
}

/** Export `image` with `--compress keep` onto a stick holding sample 1.0.0; return the error code and check nothing was written. */
async function refusal(image: string, extra: Partial<ExportRequest> = { checkLayers: true }): Promise<{ code: string; err: unknown }> {
  const media = path.join(dir, `m${n++}`);
  await exportImage({ image: s.v1, target: 'base', version: '1.0.0', mediaRoot: media });
  const before = await mediaState(media);
  let err: unknown;
  try {
    await exportImage({ image, target: 'bad', version: '1.0.0', mediaRoot: media, compress: 'keep', ...extra });
  } catch (e) {
    err = e;
  }
  const after = await mediaState(media);
  expect(after.blobs).toEqual(before.blobs); // no partial blob, no temp file
  expect(after.refs).toEqual(['base-1.0.0']); // no index entry
  return { code: isFerryError(err) ? err.code : `not a FerryError: ${String(err)}`, err };
}

/** A gzip layer whose deflate data is garbage but whose digest is that of the garbage (consistent, so a plain copy accepts it). */
function corruptGzip(): { blob: RawBlob; diffId: string } {
  const good = gzipLayer({ 'a.txt': 'x'.repeat(5000) });
  const broken = Buffer.from(good.blob.bytes);
  broken.fill(0x55, 20, broken.length - 8);
  return { blob: { bytes: broken, mediaType: GZ }, diffId: good.diffId };
}

describe('export --check-layers decodes layers it copies unchanged, in the same read', () => {
  it('a corrupt gzip stream with a consistent digest is copied blindly without the check, and refused with CORRUPT_COMPRESSION with it', async () => {
    const c = corruptGzip();
    const img = await layoutOf([c.blob], [c.diffId]);
    const blind = await exportImage({ image: img, target: 'blind', version: '1.0.0', mediaRoot: path.join(dir, `m${n++}`) });
    expect(blind.blobsWritten).toBe(3); // the gap this option closes: found only on the device
    expect((await refusal(img)).code).toBe('CORRUPT_COMPRESSION');
  });

  it('a corrupt zstd stream is refused with CORRUPT_COMPRESSION', async () => {
    const t = tinyLayerTar({ 'z.txt': 'zstd '.repeat(2000) });
    const z = Buffer.from(zstdCompressSync(t));
    z.fill(0x00, 12, z.length - 4);
    const img = await layoutOf([{ bytes: z, mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd' }], [sha(t)]);
    expect((await refusal(img)).code).toBe('CORRUPT_COMPRESSION');
  });

  it('a layer whose uncompressed content does not match the config diff_id is refused with DIGEST_MISMATCH naming the diff_id', async () => {
    const g = gzipLayer({ 'a.txt': 'real' });
    const img = await layoutOf([g.blob], [sha(Buffer.from('other'))]);
    const r = await refusal(img);
    expect(r.code).toBe('DIGEST_MISMATCH');
    expect((r.err as Error).message).toContain('diff_id');
  });

  it('a payload that is not a tar but compresses fine (and matches its diff_id) is refused with CORRUPT_ARCHIVE', async () => {
    const junk = Buffer.from('this is not a tar archive, just text\n'.repeat(100));
    const img = await layoutOf([{ bytes: gzipSync(junk), mediaType: GZ }], [sha(junk)]);
    expect((await refusal(img)).code).toBe('CORRUPT_ARCHIVE');
  });

  it('a tampered blob that fails to decode early is re-hashed and reported as DIGEST_MISMATCH of the blob, not as its symptom', async () => {
    const good = gzipLayer({ 'a.txt': 'y'.repeat(5000) });
    // 8 MiB of garbage after an intact gzip header: the decoder fails long before the copy's hash ends
    const tampered = Buffer.concat([good.blob.bytes.subarray(0, 10), Buffer.alloc(8 << 20, 0x55)]);
    const img = await layoutOf([{ bytes: tampered, mediaType: GZ, claimDigest: sha(good.blob.bytes) }], [good.diffId]);
    const r = await refusal(img);
    expect(r.code).toBe('DIGEST_MISMATCH');
    expect((r.err as Error).message).not.toContain('diff_id');
    expect((r.err as { details?: Record<string, unknown> }).details?.symptom).toBe('CORRUPT_COMPRESSION');
  });

  it('good images (layout, oci-archive, gzip + zstd + plain tar layers) pass and keep every digest', async () => {
    for (const image of [s.v1, s.v2, s.v2Archive]) {
      const plain = await exportImage({ image, target: 'p', version: '1.0.0', mediaRoot: path.join(dir, `m${n++}`) });
      const media = path.join(dir, `m${n++}`);
      const checked = await exportImage({ image, target: 'p', version: '1.0.0', mediaRoot: media, checkLayers: true });
      expect(checked.manifest.digest).toBe(plain.manifest.digest);
      expect((await verifyMediaBlobs(media)).ok).toBe(true);
    }
    const t1 = tinyLayerTar({ 'one.txt': '1' });
    const t2 = tinyLayerTar({ 'two.txt': '2'.repeat(3000) });
    const t3 = tinyLayerTar({ 'three.txt': '3' });
    const layers: RawBlob[] = [
      { bytes: gzipSync(t1), mediaType: GZ },
      { bytes: Buffer.from(zstdCompressSync(t2)), mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd' },
      { bytes: t3, mediaType: 'application/vnd.oci.image.layer.v1.tar' },
    ];
    const img = await layoutOf(layers, [sha(t1), sha(t2), sha(t3)]);
    const media = path.join(dir, `m${n++}`);
    const r = await exportImage({ image: img, target: 'mix', version: '1.0.0', mediaRoot: media, checkLayers: true });
    const man = JSON.parse(await fsp.readFile(path.join(media, 'FERRY/oci/blobs/sha256', r.manifest.digest.slice(7)), 'utf8')) as { layers: Array<{ digest: string }> };
    expect(man.layers.map((l) => l.digest)).toEqual(layers.map((l) => sha(l.bytes)));
    expect(r.manifest.digest).toBe(sha(await fsp.readFile(path.join(img.slice(4, -4), 'blobs/sha256', r.manifest.digest.slice(7)))));
  });

  it('ferry export --check-layers refuses the corrupt stream with the media-I/O exit code and CORRUPT_COMPRESSION in --json; without it the copy succeeds', async () => {
    const c = corruptGzip();
    const img = await layoutOf([c.blob], [c.diffId]);
    const media = path.join(dir, `m${n++}`);
    const cli = (...extra: string[]) => spawnSync(path.resolve('node_modules/.bin/node'), [path.resolve('dist/src/cli/main.js'), 'export', '--create', '--image', img, '--target', 'cli', '--version', '1.0.0', '--media', media, '--json', ...extra], { encoding: 'utf8' });
    const refused = cli('--check-layers');
    expect(JSON.parse(refused.stdout || refused.stderr).error?.code).toBe('CORRUPT_COMPRESSION');
    expect(refused.status).toBe(ERROR_CODES.CORRUPT_COMPRESSION);
    expect(await mediaState(media)).toEqual({ blobs: [], refs: [] });
    expect(cli().status).toBe(0);
  });
});
