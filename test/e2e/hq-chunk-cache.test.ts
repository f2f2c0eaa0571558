/**
 * HQ's chunk cache through the CLI: a signed incremental export takes the chunk digests of a
 * layer already on the stick from the cache (no re-read), the digests it pins are those of
 * the signed layer's real bytes, and a device still refuses a stick whose shared layer was
 * damaged after the first export (fail closed). Without the cache the layer is re-read and
 * the damaged copy replaced.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDevice, type TestDevice } from '../helpers/device.js';
import { makeStickKit, type StickKit } from '../helpers/device-stick.js';
import { ensureBuilt, ferry, hq } from './device-run.js';

let kit: StickKit;
let dir: string;
const d = (...p: string[]) => path.join(dir, ...p);

const exportSigned = (media: string, image: string, version: string, ...extra: string[]) =>
  hq('export', '--image', image, '--target', 'kiosk', '--version', version, '--media', media, '--create', '--signer', kit.signerDir, '--compatible', 'acme,kiosk-v2', '--counter', version.replaceAll('.', ''), '--json', ...extra);

/** The chunk index the signed update of `id` pins. */
async function pinnedChunks(media: string, id: string): Promise<Record<string, string[]>> {
  const m = JSON.parse(await fsp.readFile(path.join(media, 'FERRY/updates', `${id}.json`), 'utf8'));
  const digest = (m.image.chunkIndex.digest as string).slice(7);
  return JSON.parse(await fsp.readFile(path.join(media, 'FERRY/oci/blobs/sha256', digest), 'utf8')).blobs;
}

/** Layer digests of an image on a stick, by its ref. */
async function layersOf(media: string, ref: string): Promise<{ digest: string; size: number }[]> {
  const blob = (x: string) => path.join(media, 'FERRY/oci/blobs/sha256', x.slice(7));
  const index = JSON.parse(await fsp.readFile(path.join(media, 'FERRY/oci/index.json'), 'utf8'));
  const entry = index.manifests.find((e: { annotations: Record<string, string> }) => e.annotations['org.opencontainers.image.ref.name'] === ref);
  return JSON.parse(await fsp.readFile(blob(entry.digest), 'utf8')).layers;
}

async function damage(media: string, digest: string): Promise<void> {
  const fh = await fsp.open(path.join(media, 'FERRY/oci/blobs/sha256', digest.slice(7)), 'r+');
  await fh.write(Buffer.from('XX'), 0, 2, 20);
  await fh.close();
}

beforeAll(async () => {
  ensureBuilt();
  kit = await makeStickKit();
  dir = await fsp.mkdtemp(path.join(kit.dir, 'cache-'));
}, 120_000);
afterAll(async () => {
  await kit?.cleanup();
});

describe('export with the chunk cache', () => {
  let dev: TestDevice | undefined;
  afterAll(async () => {
    await dev?.cleanup();
  });

  it('pins the real chunk digests of a shared layer without re-reading it, and the device refuses the damaged copy', async () => {
    const v1 = kit.samples.v1;
    const v2 = kit.samples.v2;
    // the reference: 1.1.0 exported alone onto a fresh stick
    expect(exportSigned(d('fresh'), v2, '1.1.0', '--no-chunk-cache').code).toBe(0);
    const want = await pinnedChunks(d('fresh'), 'kiosk-1.1.0');

    expect(exportSigned(d('stick'), v1, '1.0.0', '--chunk-cache', d('cache')).code).toBe(0);
    const shared = (await layersOf(d('stick'), 'kiosk-1.0.0')).filter((l) => Object.hasOwn(want, l.digest));
    expect(shared.length).toBeGreaterThan(0);
    for (const l of shared) await damage(d('stick'), l.digest);

    const r = exportSigned(d('stick'), v2, '1.1.0', '--chunk-cache', d('cache'));
    expect(r.code).toBe(0);
    // the shared layers were taken as they are (not re-read, so not repaired) ...
    expect(JSON.parse(r.out)).toMatchObject({ blobsSkipped: shared.length });
    expect(r.out + r.err).not.toContain('was damaged');
    // ... and the pinned chunk digests are those of the signed bytes, not of the damaged copy
    expect(await pinnedChunks(d('stick'), 'kiosk-1.1.0')).toEqual(want);

    dev = await makeDevice({ extra: { deviceId: 'kiosk-cache-1' } });
    await kit.installTrust(dev.trustDir);
    const apply = ferry(dev, ['device', 'apply', '--media', d('stick'), '--update', 'kiosk-1.1.0', '--yes']);
    expect(apply.status).not.toBe(0);
    expect(apply.stderr).toMatch(/DIGEST_MISMATCH/);
  });

  it('without the cache re-reads the shared layer, replaces the damaged copy, and the device installs it', async () => {
    const v1 = kit.samples.v1;
    const v2 = kit.samples.v2;
    expect(exportSigned(d('stick2'), v1, '1.0.0', '--chunk-cache', d('cache2')).code).toBe(0);
    const want = await pinnedChunks(d('fresh'), 'kiosk-1.1.0');
    const shared = (await layersOf(d('stick2'), 'kiosk-1.0.0')).filter((l) => Object.hasOwn(want, l.digest));
    for (const l of shared) await damage(d('stick2'), l.digest);

    const r = exportSigned(d('stick2'), v2, '1.1.0', '--no-chunk-cache');
    expect(r.code).toBe(0);
    expect(r.out + r.err).toContain('was damaged');
    expect(await pinnedChunks(d('stick2'), 'kiosk-1.1.0')).toEqual(want);
    const dev2 = await makeDevice({ extra: { deviceId: 'kiosk-cache-2' } });
    try {
      await kit.installTrust(dev2.trustDir);
      const apply = ferry(dev2, ['device', 'apply', '--media', d('stick2'), '--update', 'kiosk-1.1.0', '--yes']);
      expect(apply.stderr).toBe('');
      expect(apply.status).toBe(0);
    } finally {
      await dev2.cleanup();
    }
  });
});
