import { execFileSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportImage } from '../../src/media/export.js';
import { buildSamplesInTemp, type SampleImages } from '../helpers/samples.js';
import { putImage, putIndex, sha, tempDir, tinyLayerTar } from './fixtures.js';

let s: SampleImages & { dir: string };
let dir: string;
let n = 0;

beforeAll(async () => {
  s = await buildSamplesInTemp();
  dir = await tempDir('ferry-unpacked-');
});
afterAll(async () => {
  await fsp.rm(s.dir, { recursive: true, force: true });
  await fsp.rm(dir, { recursive: true, force: true });
});

const ref = { 'org.opencontainers.image.ref.name': 'img' };
const TAR = 'application/vnd.oci.image.layer.v1.tar';
const GZ = 'application/vnd.oci.image.layer.v1.tar+gzip';

async function layoutOf(layers: Array<{ bytes: Buffer; mediaType: string }>, diffIds: string[]): Promise<string> {
  const l = path.join(dir, `src${n++}`);
  await putIndex(l, [{ ...(await putImage(l, { layers, diffIds })), annotations: ref }]);
  return `oci:${l}:img`;
}

/** The uncompressed size of every layer of an exported image, measured with the real gzip/zstd tools. */
function toolUnpacked(media: string, manifestDigest: string): number {
  const blob = (d: string) => path.join(media, 'FERRY', 'oci', 'blobs', 'sha256', d.slice(7));
  const man = JSON.parse(execFileSync('cat', [blob(manifestDigest)], { encoding: 'utf8' }));
  let total = 0;
  for (const l of man.layers as Array<{ digest: string; mediaType: string }>) {
    const cmd = l.mediaType.endsWith('gzip') ? `gzip -dc ${blob(l.digest)} | wc -c` : l.mediaType.endsWith('zstd') ? `zstd -dc ${blob(l.digest)} | wc -c` : `wc -c < ${blob(l.digest)}`;
    total += Number(execFileSync('sh', ['-c', cmd], { encoding: 'utf8' }).trim());
  }
  return total;
}

describe('export records the unpacked size of the image, or leaves it out when it cannot know it', () => {
  it('reads it from the gzip trailer of the skopeo/umoci sample layers, copied without decoding (matches gzip -dc)', async () => {
    const media = path.join(dir, `m${n++}`);
    const r = await exportImage({ image: s.v1, target: 'kiosk', version: '1.0.0', mediaRoot: media });
    const man = JSON.parse(await fsp.readFile(path.join(media, 'FERRY', 'oci', 'blobs', 'sha256', r.manifest.digest.slice(7)), 'utf8'));
    expect(man.layers.map((l: { mediaType: string }) => l.mediaType)).toEqual(man.layers.map(() => GZ));
    expect(r.unpackedBytes).toBe(toolUnpacked(media, r.manifest.digest));
    expect(r.unpackedBytes).toBeGreaterThan(r.payloadBytes);
    // the same image again: the blobs are shared, not read, and the size is still measured
    const again = await exportImage({ image: s.v1, target: 'kiosk', version: '1.0.1', mediaRoot: media });
    expect(again.blobsWritten).toBe(0);
    expect(again.unpackedBytes).toBe(r.unpackedBytes);
  });

  it('counts it while decoding: --check-layers copies and --compress zstd re-encodes', async () => {
    const media = path.join(dir, `m${n++}`);
    const checked = await exportImage({ image: s.v2, target: 'kiosk', version: '1.1.0', mediaRoot: media, checkLayers: true });
    const z = await exportImage({ image: s.v2, target: 'kioskz', version: '1.1.0', mediaRoot: media, compress: 'zstd' });
    const truth = toolUnpacked(media, checked.manifest.digest);
    expect(checked.unpackedBytes).toBe(truth);
    expect(z.unpackedBytes).toBe(truth);
    expect(toolUnpacked(media, z.manifest.digest)).toBe(truth);
  });

  it('counts it for a rootfs directory packed by ferry', async () => {
    const media = path.join(dir, `m${n++}`);
    const r = await exportImage({ image: `rootfs:${s.rootfsV1}`, target: 'rootfs', version: '1.0.0', mediaRoot: media });
    expect(r.unpackedBytes).toBe(toolUnpacked(media, r.manifest.digest));
  });

  it('takes an uncompressed layer at its size', async () => {
    const t = tinyLayerTar({ 'a.txt': 'hello\n', 'b.txt': 'x'.repeat(3000) });
    const r = await exportImage({ image: await layoutOf([{ bytes: t, mediaType: TAR }], [sha(t)]), target: 'plain', version: '1.0.0', mediaRoot: path.join(dir, `m${n++}`) });
    expect(r.unpackedBytes).toBe(t.length);
  });

  it('reads a zstd layer made by the zstd tool from its frame header (content size)', async () => {
    const t = tinyLayerTar({ 'z.txt': 'z'.repeat(70000) });
    const f = path.join(dir, `z${n++}.tar`);
    await fsp.writeFile(f, t);
    execFileSync('zstd', ['-q', '-f', f, '-o', `${f}.zst`]);
    const z = await fsp.readFile(`${f}.zst`);
    const r = await exportImage({ image: await layoutOf([{ bytes: z, mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd' }], [sha(t)]), target: 'zst', version: '1.0.0', mediaRoot: path.join(dir, `m${n++}`) });
    expect(r.unpackedBytes).toBe(t.length);
  });

  it('leaves it out for a multi-member gzip (two streams concatenated): the trailer only knows the last member', async () => {
    const t = tinyLayerTar({ 'a.txt': 'a'.repeat(50000), 'b.txt': 'b'.repeat(50000) });
    const half = 512 * Math.floor(t.length / 1024);
    const gz = Buffer.concat([gzipSync(t.subarray(0, half)), gzipSync(t.subarray(half))]);
    expect(execFileSync('sh', ['-c', 'gzip -dc | wc -c'], { input: gz, encoding: 'utf8' }).trim()).toBe(String(t.length));
    expect(gz.readUInt32LE(gz.length - 4)).toBe(t.length - half); // what a naive reader would take
    const image = await layoutOf([{ bytes: gz, mediaType: GZ }], [sha(t)]);
    const r = await exportImage({ image, target: 'multi', version: '1.0.0', mediaRoot: path.join(dir, `m${n++}`) });
    expect(r.unpackedBytes).toBeUndefined();
    // decoding it counts every member
    const checked = await exportImage({ image, target: 'multi', version: '1.0.1', mediaRoot: path.join(dir, `m${n++}`), checkLayers: true });
    expect(checked.unpackedBytes).toBe(t.length);
  });
});
