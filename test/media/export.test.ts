import { execFileSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFerryError } from '../../src/errors.js';
import { exportImage } from '../../src/media/export.js';
import { verifyMediaBlobs } from '../../src/media/verify.js';
import { buildSamplesInTemp, type SampleImages } from '../helpers/samples.js';
import { mediaState, putBlob, putImage, putIndex, sha, tempDir, tinyLayerTar } from './fixtures.js';

let s: SampleImages & { dir: string };
let dir: string;

beforeAll(async () => {
  s = await buildSamplesInTemp();
  dir = await tempDir('ferry-export-');
});
afterAll(async () => {
  await fsp.rm(s.dir, { recursive: true, force: true });
  await fsp.rm(dir, { recursive: true, force: true });
});

const blob = (media: string, digest: string) => path.join(media, 'FERRY/oci/blobs/sha256', digest.slice(7));
const readJson = async (media: string, digest: string) => JSON.parse(await fsp.readFile(blob(media, digest), 'utf8'));

describe('exportImage', () => {
  it('exports an OCI layout image by ref, writes index.json with ref and version, and creates FERRY/updates, trust, receipts', async () => {
    const media = path.join(dir, 'basic');
    const r = await exportImage({ image: s.v1, target: 'kiosk', version: '1.0.0', mediaRoot: media });
    expect(r.ref).toBe('kiosk-1.0.0');
    expect(r.manifest.digest).toBe(s.v1Manifest.digest); // keep: byte-identical manifest
    expect(r.manifest.annotations).toEqual({ 'org.opencontainers.image.ref.name': 'kiosk-1.0.0', 'org.opencontainers.image.version': '1.0.0' });
    expect(r.platform).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(r.blobsWritten).toBe(3);
    for (const d of ['updates', 'trust', 'receipts']) expect((await fsp.stat(path.join(media, 'FERRY', d))).isDirectory()).toBe(true);
    const man = await readJson(media, r.manifest.digest);
    expect(r.payloadBytes).toBe(man.config.size + man.layers[0].size);
    expect((await verifyMediaBlobs(media)).ok).toBe(true);
  });

  it('shares blobs: exporting 1.1.0 next to 1.0.0 writes only the new layer, config and manifest', async () => {
    const media = path.join(dir, 'share');
    await exportImage({ image: s.v1, target: 'kiosk', version: '1.0.0', mediaRoot: media });
    const r = await exportImage({ image: s.v2Archive, target: 'kiosk', version: '1.1.0', mediaRoot: media });
    expect(r.blobsWritten).toBe(3);
    expect(r.blobsSkipped).toBe(1);
    expect((await mediaState(media)).refs).toEqual(['kiosk-1.0.0', 'kiosk-1.1.0']);
    // same ref again replaces the entry instead of adding one
    await exportImage({ image: s.v2, target: 'kiosk', version: '1.1.0', mediaRoot: media });
    expect((await mediaState(media)).refs).toEqual(['kiosk-1.0.0', 'kiosk-1.1.0']);
  });

  it('re-hashes present blobs with verifyExisting and replaces a damaged one', async () => {
    const media = path.join(dir, 'verify-existing');
    const r = await exportImage({ image: s.v1, target: 'kiosk', version: '1.0.0', mediaRoot: media });
    const layer = (await readJson(media, r.manifest.digest)).layers[0];
    const fh = await fsp.open(blob(media, layer.digest), 'r+');
    await fh.write(Buffer.from('XX'), 0, 2, 100);
    await fh.close();
    // Layers are always re-read (their chunk index must come from their real bytes): the damaged one is replaced.
    const lazy = await exportImage({ image: s.v1, target: 'kiosk', version: '1.0.0', mediaRoot: media });
    expect(lazy.blobsWritten).toBe(1);
    expect((await verifyMediaBlobs(media)).ok).toBe(true);
    // --verify-existing covers the small blobs too: a damaged config is replaced, not trusted by its size.
    const cfg = (await readJson(media, r.manifest.digest)).config;
    const fc = await fsp.open(blob(media, cfg.digest), 'r+');
    await fc.write(Buffer.from('X'), 0, 1, 2);
    await fc.close();
    expect((await exportImage({ image: s.v1, target: 'kiosk', version: '1.0.0', mediaRoot: media })).blobsWritten).toBe(0);
    expect((await verifyMediaBlobs(media)).ok).toBe(false);
    const careful = await exportImage({ image: s.v1, target: 'kiosk', version: '1.0.0', mediaRoot: media, verifyExisting: true });
    expect(careful.blobsWritten).toBe(1);
    expect((await verifyMediaBlobs(media)).ok).toBe(true);
  });

  it('recompresses layers to zstd and none, keeping the config and checking diff_ids', async () => {
    for (const c of ['zstd', 'none', 'gzip'] as const) {
      const media = path.join(dir, `c-${c}`);
      const r = await exportImage({ image: s.v2, target: 'kiosk', version: '1.1.0', mediaRoot: media, compress: c });
      const man = await readJson(media, r.manifest.digest);
      const srcMan = JSON.parse(await fsp.readFile(path.join(s.layout, 'blobs/sha256', s.v2Manifest.digest.slice(7)), 'utf8'));
      expect(man.config.digest).toBe(srcMan.config.digest);
      const cfg = await readJson(media, man.config.digest);
      for (const [i, l] of man.layers.entries()) {
        const file = blob(media, l.digest);
        const tar = c === 'zstd' ? execFileSync('zstd', ['-dc', file], { maxBuffer: 64 << 20 }) : c === 'gzip' ? gunzipSync(await fsp.readFile(file)) : await fsp.readFile(file);
        expect(sha(tar)).toBe(cfg.rootfs.diff_ids[i]);
        expect(l.mediaType).toBe(c === 'none' ? 'application/vnd.oci.image.layer.v1.tar' : `application/vnd.oci.image.layer.v1.tar+${c}`);
      }
      expect((await verifyMediaBlobs(media)).ok).toBe(true);
    }
  });

  it('picks --platform from a multi-platform index and refuses a platform it does not have', async () => {
    const layout = path.join(dir, 'multi');
    const amd = await putImage(layout, { layers: [{ bytes: tinyLayerTar({ 'a.txt': 'amd' }), mediaType: 'application/vnd.oci.image.layer.v1.tar' }], diffIds: [sha(tinyLayerTar({ 'a.txt': 'amd' }))] });
    const arm = await putImage(layout, { arch: 'arm64', layers: [{ bytes: tinyLayerTar({ 'a.txt': 'arm' }), mediaType: 'application/vnd.oci.image.layer.v1.tar' }], diffIds: [sha(tinyLayerTar({ 'a.txt': 'arm' }))] });
    const idx = await putBlob(layout, {
      bytes: Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ ...amd, platform: { os: 'linux', architecture: 'amd64' } }, { ...arm, platform: { os: 'linux', architecture: 'arm64' } }] })),
      mediaType: 'application/vnd.oci.image.index.v1+json',
    });
    await putIndex(layout, [{ ...idx, annotations: { 'org.opencontainers.image.ref.name': 'multi' } }]);
    const media = path.join(dir, 'multi-media');
    const def = await exportImage({ image: `oci:${layout}:multi`, target: 'm', version: '1.0.0', mediaRoot: media });
    expect(def.manifest.digest).toBe(amd.digest);
    const r = await exportImage({ image: `oci:${layout}:multi`, target: 'm', version: '2.0.0', mediaRoot: media, platform: { os: 'linux', architecture: 'arm64' } });
    expect(r.manifest.digest).toBe(arm.digest);
    expect(r.platform.architecture).toBe('arm64');
    await expect(exportImage({ image: `oci:${layout}:multi`, target: 'm', version: '3.0.0', mediaRoot: media, platform: { os: 'linux', architecture: 's390x' } })).rejects.toSatisfy(
      (e: unknown) => isFerryError(e, 'PLATFORM_NOT_FOUND') && e.exitCode === 5,
    );
    expect((await mediaState(media)).refs).toEqual(['m-1.0.0', 'm-2.0.0']);
  });

  it('converts a docker-archive written by skopeo to OCI media types with correct diff_ids', async () => {
    const archive = path.join(dir, 'docker.tar');
    execFileSync('skopeo', ['copy', '-q', s.v2, `docker-archive:${archive}:sample:1.1.0`]);
    const media = path.join(dir, 'docker-media');
    for (const [ref, compress] of [['sample:1.1.0', 'keep'], ['@0', 'gzip']] as const) {
      const r = await exportImage({ image: `docker-archive:${archive}:${ref}`, target: 'dock', version: compress === 'keep' ? '1.1.0' : '1.1.1', mediaRoot: media, compress });
      const man = await readJson(media, r.manifest.digest);
      expect(man.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
      expect(man.config.mediaType).toBe('application/vnd.oci.image.config.v1+json');
      const cfg = await readJson(media, man.config.digest);
      expect(man.layers).toHaveLength(2);
      for (const [i, l] of man.layers.entries()) {
        const bytes = await fsp.readFile(blob(media, l.digest));
        expect(sha(compress === 'gzip' ? gunzipSync(bytes) : bytes)).toBe(cfg.rootfs.diff_ids[i]);
      }
    }
    expect(JSON.parse(execFileSync('skopeo', ['inspect', `oci:${media}/FERRY/oci:dock-1.1.1`]).toString()).Layers).toHaveLength(2);
  });

  it('reads a legacy docker save layout whose duplicate layer is a symlink', async () => {
    const d = path.join(dir, 'legacy');
    const t1 = tinyLayerTar({ 'etc/a': 'one' });
    const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha(t1), sha(t1)] } }));
    await fsp.mkdir(path.join(d, 'aaa'), { recursive: true });
    await fsp.mkdir(path.join(d, 'bbb'), { recursive: true });
    await fsp.writeFile(path.join(d, 'aaa/layer.tar'), t1);
    await fsp.symlink('../aaa/layer.tar', path.join(d, 'bbb/layer.tar'));
    await fsp.writeFile(path.join(d, 'cfg.json'), cfg);
    await fsp.writeFile(path.join(d, 'manifest.json'), JSON.stringify([{ Config: 'cfg.json', RepoTags: ['legacy:1'], Layers: ['aaa/layer.tar', 'bbb/layer.tar'] }]));
    const archive = path.join(dir, 'legacy.tar');
    execFileSync('tar', ['-C', d, '-cf', archive, 'manifest.json', 'cfg.json', 'aaa', 'bbb']);
    const media = path.join(dir, 'legacy-media');
    const r = await exportImage({ image: `docker-archive:${archive}:legacy:1`, target: 'legacy', version: '1.0.0', mediaRoot: media });
    const man = await readJson(media, r.manifest.digest);
    expect(man.layers.map((l: { digest: string }) => l.digest)).toEqual([sha(t1), sha(t1)]);
    expect(man.config.digest).toBe(sha(cfg));
  });

  it('reads a docker-archive with a gzip layer, checking its diff_id while re-encoding', async () => {
    const t1 = tinyLayerTar({ 'etc/b': 'two' });
    const mk = async (name: string, diffId: string) => {
      const d = path.join(dir, name);
      await fsp.mkdir(d, { recursive: true });
      await fsp.writeFile(path.join(d, 'l.tar.gz'), gzipSync(t1));
      await fsp.writeFile(path.join(d, 'c.json'), JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [diffId] } }));
      await fsp.writeFile(path.join(d, 'manifest.json'), JSON.stringify([{ Config: 'c.json', RepoTags: ['gz:1'], Layers: ['l.tar.gz'] }]));
      const archive = path.join(dir, `${name}.tar`);
      execFileSync('tar', ['-C', d, '-cf', archive, 'manifest.json', 'c.json', 'l.tar.gz']);
      return `docker-archive:${archive}`;
    };
    const media = path.join(dir, 'gz-docker');
    const r = await exportImage({ image: await mk('gzdock', sha(t1)), target: 'gz', version: '1.0.0', mediaRoot: media });
    const man = await readJson(media, r.manifest.digest);
    expect(man.layers[0].mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
    expect(sha(gunzipSync(await fsp.readFile(blob(media, man.layers[0].digest))))).toBe(sha(t1));
    await expect(exportImage({ image: await mk('gzlie', sha(Buffer.from('x'))), target: 'gz', version: '2.0.0', mediaRoot: media })).rejects.toSatisfy((e: unknown) => isFerryError(e, 'DIGEST_MISMATCH'));
  });

  it('exports a rootfs tarball (gzip) as one layer', async () => {
    const tgz = path.join(dir, 'root.tar.gz');
    execFileSync('tar', ['-C', s.rootfsV1, '-czf', tgz, '.']);
    const media = path.join(dir, 'tgz');
    const r = await exportImage({ image: `rootfs:${tgz}`, target: 'tgz', version: '1.0.0', mediaRoot: media });
    const man = await readJson(media, r.manifest.digest);
    expect(man.layers[0].mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
    const cfg = await readJson(media, man.config.digest);
    expect(cfg.rootfs.diff_ids[0]).toBe(sha(gunzipSync(await fsp.readFile(tgz))));
  });
});
