/**
 * `ferry export --image docker://…` against a real registry (docker-registry on 127.0.0.1,
 * plain HTTP): the same media, digest for digest, as from an oci-archive; a multi-platform
 * index with --platform; blobs already on the stick not fetched; errors for unknown names.
 */
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportImage } from '../../../src/media/export.js';
import { sha256Digest } from '../../../src/oci/digest.js';
import { OciLayout } from '../../../src/oci/layout.js';
import { MediaType } from '../../../src/oci/types.js';
import { inspectRaw, pushImage, startRegistry, type TestRegistry } from '../../helpers/registry.js';
import { buildMultiArch } from '../../helpers/registry-images.js';
import { buildSamplesInTemp, type SampleImages } from '../../helpers/samples.js';

let reg: TestRegistry;
let samples: SampleImages & { dir: string };
let tmp: string;

beforeAll(async () => {
  samples = await buildSamplesInTemp('ferry-registry-samples-');
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-registry-export-'));
  reg = await startRegistry();
  await pushImage(reg, samples.v1Archive, 'kiosk:1.0.0');
  await pushImage(reg, samples.v2Archive, 'kiosk:1.1.0');
  await pushImage(reg, await buildMultiArch(samples, tmp), 'multi:1', true);
  await pushImage(reg, samples.v1Archive, 'docker:1.0.0', false, ['--format', 'v2s2']);
}, 120_000);

afterAll(async () => {
  await reg?.stop();
  await fsp.rm(tmp, { recursive: true, force: true });
  await fsp.rm(samples?.dir, { recursive: true, force: true });
});

async function stick(name: string): Promise<string> {
  const d = path.join(tmp, name);
  await fsp.mkdir(d);
  return d;
}

function tmpStick(name: string): string {
  return path.join(tmp, name);
}

async function blobNames(media: string): Promise<string[]> {
  return (await fsp.readdir(path.join(media, 'FERRY', 'oci', 'blobs', 'sha256'))).sort();
}

describe('export from a registry', () => {
  it('writes the same media, digest for digest, as exporting the same image from an oci-archive', async () => {
    const a = await stick('from-archive');
    const b = await stick('from-registry');
    const ra = await exportImage({ image: samples.v2Archive, target: 'kiosk', version: '1.1.0', mediaRoot: a });
    const rb = await exportImage({ image: `docker://${reg.host}/kiosk:1.1.0`, target: 'kiosk', version: '1.1.0', mediaRoot: b, registry: reg.clientOptions });
    expect(rb.manifest.digest).toBe(ra.manifest.digest);
    expect(rb.manifest.digest).toBe(samples.v2Manifest.digest);
    expect(rb.chunkIndex?.digest).toBe(ra.chunkIndex?.digest);
    expect(await blobNames(b)).toEqual(await blobNames(a));
    expect(await fsp.readFile(path.join(b, 'FERRY', 'oci', 'index.json'), 'utf8')).toBe(await fsp.readFile(path.join(a, 'FERRY', 'oci', 'index.json'), 'utf8'));
    // every blob verifies against its digest
    const layout = await OciLayout.open(path.join(b, 'FERRY', 'oci'));
    const img = await layout.resolveImage(rb.manifest);
    for (const d of [img.configDescriptor, ...img.manifest.layers]) await layout.verifyBlob(d);
  });

  it('reads an image by digest, and does not fetch blobs the stick already holds', async () => {
    const media = await stick('incremental');
    const r1 = await exportImage({ image: `docker://${reg.host}/kiosk:1.0.0`, target: 'kiosk', version: '1.0.0', mediaRoot: media, registry: reg.clientOptions });
    expect(r1.blobsWritten).toBeGreaterThan(0);
    const r2 = await exportImage({ image: `docker://${reg.host}/kiosk@${samples.v2Manifest.digest}`, target: 'kiosk', version: '1.1.0', mediaRoot: media, registry: reg.clientOptions });
    expect(r2.manifest.digest).toBe(samples.v2Manifest.digest);
    // layer 1 and nothing else is shared with 1.0.0: skipped, never downloaded
    expect(r2.blobsSkipped).toBe(1);
    // fetched: the manifest, the config and the new layer (the chunk index is made here)
    const img = await (await OciLayout.open(path.join(media, 'FERRY', 'oci'))).resolveImage(r2.manifest);
    const shared = new Set((await (await OciLayout.open(path.join(media, 'FERRY', 'oci'))).resolveImage(r1.manifest)).manifest.layers.map((d) => d.digest));
    const fresh = img.manifest.layers.filter((d) => !shared.has(d.digest)).reduce((n, d) => n + d.size, 0);
    expect(r2.bytesFetched).toBe(r2.manifest.size + img.configDescriptor.size + fresh);
    expect(r1.bytesFetched).toBe(r1.payloadBytes + r1.manifest.size);
  });

  it('picks the platform from a multi-platform index (--platform), linux/amd64 by default', async () => {
    const amd = await exportImage({ image: `docker://${reg.host}/multi:1`, target: 'multi', version: '1.0.0', mediaRoot: await stick('multi-amd64'), registry: reg.clientOptions });
    const arm = await exportImage({
      image: `docker://${reg.host}/multi:1`,
      target: 'multi',
      version: '1.0.0',
      mediaRoot: await stick('multi-arm64'),
      platform: { os: 'linux', architecture: 'arm64' },
      registry: reg.clientOptions,
    });
    expect(amd.platform.architecture).toBe('amd64');
    expect(amd.manifest.digest).toBe(samples.v1Manifest.digest);
    expect(arm.platform.architecture).toBe('arm64');
    expect(arm.manifest.digest).not.toBe(amd.manifest.digest);
    await expect(
      exportImage({ image: `docker://${reg.host}/multi:1`, target: 'multi', version: '1.0.0', mediaRoot: await stick('multi-s390x'), platform: { os: 'linux', architecture: 's390x' }, registry: reg.clientOptions }),
    ).rejects.toMatchObject({ code: 'PLATFORM_NOT_FOUND' });
  });

  it('converts a Docker v2 manifest to OCI media types, recording the registry digest as the source', async () => {
    const raw = JSON.parse(await inspectRaw(reg, 'docker:1.0.0')) as { mediaType: string; layers: Array<{ digest: string }> };
    expect(raw.mediaType).toBe(MediaType.dockerManifest);
    const r = await exportImage({ image: `docker://${reg.host}/docker:1.0.0`, target: 'kiosk', version: '1.0.0', mediaRoot: await stick('docker-v2'), registry: reg.clientOptions });
    const registryDigest = sha256Digest(Buffer.from(await inspectRaw(reg, 'docker:1.0.0')));
    expect(r.manifest.mediaType).toBe(MediaType.imageManifest);
    expect(r.manifest.digest).not.toBe(registryDigest);
    expect(r.source).toMatchObject({ transport: 'docker', manifest: registryDigest });
    const layout = await OciLayout.open(path.join(tmpStick('docker-v2'), 'FERRY', 'oci'));
    const img = await layout.resolveImage(r.manifest);
    expect(img.manifest.layers.map((l) => [l.mediaType, l.digest])).toEqual(raw.layers.map((l) => [MediaType.layerGzip, l.digest]));
    for (const d of [img.configDescriptor, ...img.manifest.layers]) await layout.verifyBlob(d);
  });

  it('refuses an unknown repository or tag with IMAGE_NOT_FOUND and writes nothing', async () => {
    const media = await stick('unknown');
    for (const name of [`docker://${reg.host}/nosuch:1`, `docker://${reg.host}/kiosk:9.9.9`]) {
      const e = await exportImage({ image: name, target: 'kiosk', version: '1.0.0', mediaRoot: media, registry: reg.clientOptions }).catch((x: unknown) => x);
      expect(e).toMatchObject({ code: 'IMAGE_NOT_FOUND' });
      expect((e as Error).message).toContain('MANIFEST_UNKNOWN');
    }
    // the manifest is resolved before the stick is touched: no image store, no blob
    await expect(fsp.access(path.join(media, 'FERRY', 'oci'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses plain HTTP unless --tls-verify=false', async () => {
    const e = exportImage({ image: `docker://${reg.host}/kiosk:1.0.0`, target: 'kiosk', version: '1.0.0', mediaRoot: await stick('plain'), registry: { tlsVerify: true } });
    await expect(e).rejects.toMatchObject({ code: 'REGISTRY_TLS' });
  });
});
