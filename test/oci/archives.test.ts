import { execFileSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFerryError } from '../../src/errors.js';
import { detectCompression } from '../../src/oci/compress.js';
import { parseDockerManifest, pickDockerImage } from '../../src/oci/docker-archive.js';
import { openOciArchive } from '../../src/oci/oci-archive.js';
import { buildSamplesInTemp, type SampleImages } from '../helpers/samples.js';

let s: SampleImages & { dir: string };
beforeAll(async () => {
  s = await buildSamplesInTemp();
});
afterAll(async () => {
  await fsp.rm(s.dir, { recursive: true, force: true });
});

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return isFerryError(e) ? e.code : 'other';
  }
  return undefined;
}

describe('openOciArchive', () => {
  it('reads a layout at the tar root and under oci/ without unpacking, verifying blobs as they stream', async () => {
    const nested = path.join(s.dir, 'nested.tar');
    execFileSync('sh', ['-c', `d=$(mktemp -d); mkdir $d/oci; tar -C $d/oci -xf ${s.v1Archive.slice(12)}; tar -C $d -cf ${nested} oci; rm -rf $d`]);
    for (const file of [s.v1Archive.slice('oci-archive:'.length), nested]) {
      const { layout, prefix } = await openOciArchive(file);
      expect(prefix).toBe(file === nested ? 'oci/' : '');
      const img = await layout.resolveImage(await layout.findRef('sample-1.0.0'));
      expect(img.manifestDescriptor.digest).toBe(s.v1Manifest.digest);
      expect(await layout.verifyBlob(img.manifest.layers[0]!)).toBe(img.manifest.layers[0]!.size);
    }
  });

  it('refuses a tar without a layout', async () => {
    const t = path.join(s.dir, 'plain.tar');
    execFileSync('tar', ['-C', s.rootfsV1, '-cf', t, 'etc']);
    await expect(openOciArchive(t)).rejects.toSatisfy((e: unknown) => isFerryError(e, 'INVALID_LAYOUT'));
  });
});

describe('docker-archive manifest.json', () => {
  const entries = parseDockerManifest(
    [
      { Config: 'a.json', RepoTags: ['busybox:latest'], Layers: ['a/layer.tar'] },
      { Config: 'b.json', RepoTags: ['docker.io/library/kiosk:2.0'], Layers: [] },
    ],
    'x.tar',
  );

  it('picks an image by tag (with docker.io/library and :latest normalised) or by @index', () => {
    expect(pickDockerImage(entries, 'busybox', 'x.tar').Config).toBe('a.json');
    expect(pickDockerImage(entries, 'kiosk:2.0', 'x.tar').Config).toBe('b.json');
    expect(pickDockerImage(entries, '@1', 'x.tar').Config).toBe('b.json');
  });

  it('refuses an ambiguous, unknown or malformed choice', () => {
    expect(code(() => pickDockerImage(entries, undefined, 'x.tar'))).toBe('AMBIGUOUS_IMAGE');
    expect(code(() => pickDockerImage(entries, 'nginx', 'x.tar'))).toBe('IMAGE_NOT_FOUND');
    expect(code(() => pickDockerImage(entries, '@5', 'x.tar'))).toBe('IMAGE_NOT_FOUND');
    expect(code(() => parseDockerManifest({}, 'x.tar'))).toBe('INVALID_MANIFEST');
    expect(code(() => parseDockerManifest([{ Config: 'a', Layers: [1] }], 'x.tar'))).toBe('INVALID_MANIFEST');
  });
});

describe('detectCompression', () => {
  it('knows gzip and zstd by their magic numbers', () => {
    expect(detectCompression(Buffer.from([0x1f, 0x8b, 8, 0]))).toBe('gzip');
    expect(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))).toBe('zstd');
    expect(detectCompression(Buffer.from('ustar'))).toBe('none');
  });
});
