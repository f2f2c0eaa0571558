/**
 * A registry that lies, drops and rate-limits: the real test registry behind a
 * fault-injecting proxy. Each fault is a typed error, and the stick keeps no half-written
 * blob (no temp file, no blob under a name its bytes do not match, no index entry).
 */
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { exportImage } from '../../../src/media/export.js';
import { OciLayout } from '../../../src/oci/layout.js';
import type { Descriptor } from '../../../src/oci/types.js';
import { type FaultProxy, startFaultProxy } from '../../helpers/registry-proxy.js';
import { pushImage, startRegistry, type TestRegistry } from '../../helpers/registry.js';
import { buildSamplesInTemp, type SampleImages } from '../../helpers/samples.js';

let reg: TestRegistry;
let proxy: FaultProxy;
let samples: SampleImages & { dir: string };
let tmp: string;
let layer: Descriptor;
let n = 0;

beforeAll(async () => {
  samples = await buildSamplesInTemp('ferry-registry-samples-');
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-registry-faults-'));
  reg = await startRegistry();
  await pushImage(reg, samples.v1Archive, 'kiosk:1.0.0');
  await pushImage(reg, samples.v2Archive, 'kiosk:1.1.0');
  proxy = await startFaultProxy(reg.host);
  layer = (await (await OciLayout.open(samples.layout)).resolveImage(samples.v1Manifest)).manifest.layers[0]!;
}, 120_000);

afterAll(async () => {
  await proxy?.close();
  await reg?.stop();
  await fsp.rm(tmp, { recursive: true, force: true });
  await fsp.rm(samples?.dir, { recursive: true, force: true });
});

beforeEach(() => {
  for (const k of Object.keys(proxy.faults)) delete proxy.faults[k as keyof typeof proxy.faults];
  proxy.seen.length = 0;
});

async function exportVia(version = '1.0.0', opts: { maxRetryAfter?: number } = {}) {
  const mediaRoot = path.join(tmp, `stick-${n++}`);
  await fsp.mkdir(mediaRoot);
  const run = exportImage({ image: `docker://${proxy.host}/kiosk:${version}`, target: 'kiosk', version, mediaRoot, registry: { tlsVerify: false, ...opts } });
  return { mediaRoot, run };
}

/** Nothing half-written: no temp file, every blob present matches its name, no image in the index. */
async function expectNothingHalfWritten(mediaRoot: string, missing: string): Promise<void> {
  const oci = path.join(mediaRoot, 'FERRY', 'oci');
  const names = await fsp.readdir(path.join(oci, 'blobs', 'sha256'));
  expect(names.filter((f) => f.startsWith('.'))).toEqual([]);
  expect(names).not.toContain(missing.slice(7));
  const layout = await OciLayout.open(oci);
  for (const f of names) {
    const size = (await fsp.stat(path.join(oci, 'blobs', 'sha256', f))).size;
    await layout.verifyBlob({ mediaType: 'application/octet-stream', digest: `sha256:${f}`, size });
  }
  expect((await layout.readIndex()).manifests).toEqual([]);
}

describe('a registry that misbehaves', () => {
  it('waits out 429 as Retry-After says, and gives up with REGISTRY_RATE_LIMITED past the bound', async () => {
    proxy.faults.tooMany = { count: 2, retryAfter: '1' };
    const ok = await exportVia();
    await expect(ok.run).resolves.toMatchObject({ manifest: { digest: samples.v1Manifest.digest } });
    expect(proxy.seen.length).toBeGreaterThan(2);
    proxy.faults.tooMany = { count: 1, retryAfter: '3600' };
    await expect((await exportVia()).run).rejects.toMatchObject({ code: 'REGISTRY_RATE_LIMITED' });
    proxy.faults.tooMany = { count: 10, retryAfter: '0' };
    await expect((await exportVia()).run).rejects.toMatchObject({ code: 'REGISTRY_RATE_LIMITED' });
  });

  it('refuses a blob whose bytes do not match its digest (DIGEST_MISMATCH), nothing half-written', async () => {
    proxy.faults.corruptBlob = layer.digest;
    const { mediaRoot, run } = await exportVia();
    await expect(run).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    await expectNothingHalfWritten(mediaRoot, layer.digest);
  });

  it('refuses a blob longer than its descriptor says (SIZE_MISMATCH), nothing half-written', async () => {
    proxy.faults.extendBlob = layer.digest;
    const { mediaRoot, run } = await exportVia();
    await expect(run).rejects.toMatchObject({ code: 'SIZE_MISMATCH' });
    await expectNothingHalfWritten(mediaRoot, layer.digest);
  });

  it('refuses a manifest that does not match the digest the registry announces', async () => {
    proxy.faults.alterManifest = true;
    await expect((await exportVia()).run).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
  });

  it('refuses a manifest over the size cap without reading it all (FILE_TOO_LARGE)', async () => {
    proxy.faults.hugeManifest = 5 * 1024 * 1024;
    await expect((await exportVia()).run).rejects.toMatchObject({ code: 'FILE_TOO_LARGE' });
  });

  it('resumes a dropped blob with a Range request from the byte reached', async () => {
    proxy.faults.dropBlob = { digest: layer.digest, after: 1000, times: 2 };
    const { run } = await exportVia();
    await expect(run).resolves.toMatchObject({ manifest: { digest: samples.v1Manifest.digest } });
    const gets = proxy.seen.filter((r) => r.path.endsWith(layer.digest));
    // each response is cut 1000 bytes in: the second resume starts 1000 bytes further on
    expect(gets.map((r) => r.range)).toEqual([undefined, 'bytes=1000-', 'bytes=2000-']);
  });

  it('fails cleanly with REGISTRY_INTERRUPTED when the connection keeps dropping, nothing half-written', async () => {
    proxy.faults.dropBlob = { digest: layer.digest, after: 1000, times: 100 };
    const { mediaRoot, run } = await exportVia();
    await expect(run).rejects.toMatchObject({ code: 'REGISTRY_INTERRUPTED', details: { bytes: 4000 } });
    // the first try and three resumes
    expect(proxy.seen.filter((r) => r.path.endsWith(layer.digest))).toHaveLength(4);
    await expectNothingHalfWritten(mediaRoot, layer.digest);
  });

  it('follows redirects to blob storage on another host', async () => {
    proxy.faults.redirectBlobs = true;
    await expect((await exportVia()).run).resolves.toMatchObject({ manifest: { digest: samples.v1Manifest.digest } });
    expect(proxy.seen.filter((r) => r.path.startsWith('/storage/') && r.host === `localhost:${proxy.port}`).length).toBeGreaterThanOrEqual(2);
  });

  it('does not download a blob the stick already holds', async () => {
    const mediaRoot = path.join(tmp, 'incremental');
    await fsp.mkdir(mediaRoot);
    await exportImage({ image: `docker://${proxy.host}/kiosk:1.0.0`, target: 'kiosk', version: '1.0.0', mediaRoot, registry: { tlsVerify: false } });
    proxy.seen.length = 0;
    await exportImage({ image: `docker://${proxy.host}/kiosk:1.1.0`, target: 'kiosk', version: '1.1.0', mediaRoot, registry: { tlsVerify: false } });
    const blobGets = proxy.seen.filter((r) => r.path.includes('/blobs/'));
    expect(blobGets.some((r) => r.path.endsWith(layer.digest))).toBe(false);
    // the new layer and the new config were fetched
    expect(blobGets.length).toBe(2);
  });
});
