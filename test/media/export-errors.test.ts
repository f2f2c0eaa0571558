import { execFileSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFerryError } from '../../src/errors.js';
import { exportImage } from '../../src/media/export.js';
import { buildSamplesInTemp, type SampleImages } from '../helpers/samples.js';
import { gzipLayer, mediaState, putImage, putIndex, sha, tempDir, tinyLayerTar } from './fixtures.js';

let s: SampleImages & { dir: string };
let dir: string;
let n = 0;

beforeAll(async () => {
  s = await buildSamplesInTemp();
  dir = await tempDir('ferry-export-err-');
});
afterAll(async () => {
  await fsp.rm(s.dir, { recursive: true, force: true });
  await fsp.rm(dir, { recursive: true, force: true });
});

/** Export `image` onto a stick that already holds sample 1.0.0, expect `code`, and check the stick is unchanged. */
async function refuses(image: string, code: string, extra: { compress?: 'zstd' } = {}): Promise<void> {
  const media = path.join(dir, `m${n++}`);
  await exportImage({ image: s.v1, target: 'base', version: '1.0.0', mediaRoot: media });
  const before = await mediaState(media);
  let err: unknown;
  try {
    await exportImage({ image, target: 'bad', version: '1.0.0', mediaRoot: media, ...extra });
  } catch (e) {
    err = e;
  }
  expect(isFerryError(err) ? `${err.code}` : `not a FerryError: ${String(err)}`).toBe(code);
  const after = await mediaState(media);
  expect(after.blobs).toEqual(before.blobs); // no partial blob, no temp file
  expect(after.refs).toEqual(['base-1.0.0']); // no index entry
}

async function layoutWith(name: string, build: (layout: string) => Promise<void>): Promise<string> {
  const layout = path.join(dir, name);
  await build(layout);
  return `oci:${layout}:bad`;
}

const ref = { 'org.opencontainers.image.ref.name': 'bad' };

describe('exportImage refuses bad input and writes nothing', () => {
  it('refuses a corrupt gzip layer with CORRUPT_COMPRESSION when it has to decode it', async () => {
    const good = gzipLayer({ 'a.txt': 'x'.repeat(5000) });
    const broken = Buffer.from(good.blob.bytes);
    broken.fill(0x55, 20, broken.length - 8); // header intact, deflate data garbage
    const img = await layoutWith('gz', async (l) => putIndex(l, [{ ...(await putImage(l, { layers: [{ bytes: broken, mediaType: good.blob.mediaType }], diffIds: [good.diffId] })), annotations: ref }]));
    await refuses(img, 'CORRUPT_COMPRESSION', { compress: 'zstd' });
    const tgz = path.join(dir, 'broken.tar.gz');
    await fsp.writeFile(tgz, broken);
    await refuses(`rootfs:${tgz}`, 'CORRUPT_COMPRESSION');
  });

  it('refuses a truncated oci-archive with CORRUPT_ARCHIVE', async () => {
    const file = path.join(dir, 'trunc.tar');
    await fsp.copyFile(s.v2Archive.slice('oci-archive:'.length), file);
    await fsp.truncate(file, (await fsp.stat(file)).size - 3000);
    await refuses(`oci-archive:${file}`, 'CORRUPT_ARCHIVE');
  });

  it('refuses a layer whose content does not match its digest with DIGEST_MISMATCH', async () => {
    const t = tinyLayerTar({ 'a.txt': 'honest' });
    const liar = tinyLayerTar({ 'a.txt': 'lies!!' });
    const img = await layoutWith('lie', async (l) =>
      putIndex(l, [{ ...(await putImage(l, { layers: [{ bytes: liar, claimDigest: sha(t), mediaType: 'application/vnd.oci.image.layer.v1.tar' }], diffIds: [sha(t)] })), annotations: ref }]),
    );
    await refuses(img, 'DIGEST_MISMATCH');
  });

  it('refuses an image whose layer blob is missing with BLOB_MISSING', async () => {
    const g = gzipLayer({ 'a.txt': 'gone' });
    const img = await layoutWith('missing', async (l) => putIndex(l, [{ ...(await putImage(l, { layers: [{ ...g.blob, omit: true }], diffIds: [g.diffId] })), annotations: ref }]));
    await refuses(img, 'BLOB_MISSING');
  });

  it('refuses an index.json over the size cap with FILE_TOO_LARGE', async () => {
    const img = await layoutWith('huge', async (l) => {
      const g = gzipLayer({ 'a.txt': 'big index' });
      await putIndex(l, [{ ...(await putImage(l, { layers: [g.blob], diffIds: [g.diffId] })), annotations: { ...ref, pad: 'p'.repeat(5 * 1024 * 1024) } }]);
    });
    await refuses(img, 'FILE_TOO_LARGE');
  });

  it('refuses an unknown layer media type with UNSUPPORTED_MEDIA_TYPE', async () => {
    const g = gzipLayer({ 'a.txt': 'odd' });
    const img = await layoutWith('odd', async (l) =>
      putIndex(l, [{ ...(await putImage(l, { layers: [{ ...g.blob, mediaType: 'application/vnd.example.squashfs' }], diffIds: [g.diffId] })), annotations: ref }]),
    );
    await refuses(img, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('refuses a layer whose uncompressed content does not match the config diff_id', async () => {
    const g = gzipLayer({ 'a.txt': 'real' });
    const img = await layoutWith('diffid', async (l) => putIndex(l, [{ ...(await putImage(l, { layers: [g.blob], diffIds: [sha(Buffer.from('other'))] })), annotations: ref }]));
    await refuses(img, 'DIGEST_MISMATCH', { compress: 'zstd' });
  });

  it('refuses a missing image ref and an ambiguous layout', async () => {
    await refuses(`oci:${s.layout}:nope`, 'IMAGE_NOT_FOUND');
    await refuses(`oci:${s.layout}`, 'AMBIGUOUS_IMAGE');
    await refuses('docker://busybox', 'BAD_INPUT_NAME');
  });

  it('refuses a rootfs tarball that is not a tar, or is cut short, with CORRUPT_ARCHIVE', async () => {
    const junk = path.join(dir, 'junk.tar.gz');
    await fsp.writeFile(junk, gzipSync(Buffer.from('not a tar at all')));
    await refuses(`rootfs:${junk}`, 'CORRUPT_ARCHIVE');
    const cut = path.join(dir, 'cut.tar');
    execFileSync('tar', ['-C', s.rootfsV1, '-cf', cut, '.']);
    await fsp.truncate(cut, 100_000);
    await refuses(`rootfs:${cut}`, 'CORRUPT_ARCHIVE');
  });
});
