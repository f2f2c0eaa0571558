import { execFileSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportImage } from '../../src/media/export.js';
import { tempDir } from '../media/fixtures.js';

let dir: string;
let root: string;

async function layerOf(media: string, ref: string): Promise<string> {
  const oci = path.join(media, 'FERRY', 'oci');
  const idx = JSON.parse(await fsp.readFile(path.join(oci, 'index.json'), 'utf8'));
  const entry = idx.manifests.find((m: { annotations: Record<string, string> }) => m.annotations['org.opencontainers.image.ref.name'] === ref);
  const man = JSON.parse(await fsp.readFile(path.join(oci, 'blobs/sha256', entry.digest.slice(7)), 'utf8'));
  return path.join(oci, 'blobs/sha256', man.layers[0].digest.slice(7));
}

beforeAll(async () => {
  dir = await tempDir('ferry-rootfs-');
  root = path.join(dir, 'root');
  await fsp.mkdir(path.join(root, 'usr/bin'), { recursive: true });
  await fsp.mkdir(path.join(root, 'dev'), { recursive: true });
  await fsp.writeFile(path.join(root, 'usr/bin/ping'), '#!/bin/sh\necho ping\n', { mode: 0o755 });
  execFileSync('setcap', ['cap_net_raw+ep', path.join(root, 'usr/bin/ping')]);
  execFileSync('mknod', [path.join(root, 'dev/console'), 'c', '5', '1']);
  await fsp.writeFile(path.join(root, 'owned'), 'high uid');
  await fsp.chown(path.join(root, 'owned'), 300000, 300000);
  await fsp.link(path.join(root, 'owned'), path.join(root, 'owned-link'));
  await fsp.symlink('usr/bin/ping', path.join(root, 'ping-here'));
});
afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

describe('rootfs input', () => {
  it('keeps a binary security.capability xattr, a char device, uid 300000, a hardlink and a symlink through export', async () => {
    const media = path.join(dir, 'm1');
    await exportImage({ image: `rootfs:${root}`, target: 'fid', version: '1.0.0', mediaRoot: media });
    const layer = await layerOf(media, 'fid-1.0.0');
    const listing = execFileSync('tar', ['--xattrs', '--xattrs-include=*', '--numeric-owner', '-tvvzf', layer]).toString();
    expect(listing).toMatch(/^c\S* +0\/0 +5,\s*1 .* dev\/console$/m);
    expect(listing).toMatch(/^-\S* +300000\/300000 .* owned$/m);
    expect(listing).toMatch(/^h\S* .* owned-link link to owned$/m);
    expect(listing).toMatch(/ping-here -> usr\/bin\/ping$/m);
    expect(listing).toMatch(/x: \d+ security\.capability/);

    const out = path.join(dir, 'extract');
    await fsp.mkdir(out);
    execFileSync('tar', ['--xattrs', '--xattrs-include=*', '--numeric-owner', '-p', '-xzf', layer, '-C', out]);
    expect(execFileSync('getcap', [path.join(out, 'usr/bin/ping')]).toString()).toContain('cap_net_raw=ep');
    const before = execFileSync('getfattr', ['-e', 'hex', '-n', 'security.capability', path.join(root, 'usr/bin/ping')]).toString().split('\n')[1];
    const after = execFileSync('getfattr', ['-e', 'hex', '-n', 'security.capability', path.join(out, 'usr/bin/ping')]).toString().split('\n')[1];
    expect(after).toBe(before);
    const dev = await fsp.lstat(path.join(out, 'dev/console'));
    expect(dev.isCharacterDevice()).toBe(true);
    expect(dev.rdev).toBe((await fsp.lstat(path.join(root, 'dev/console'))).rdev);
    const owned = await fsp.stat(path.join(out, 'owned'));
    expect([owned.uid, owned.gid]).toEqual([300000, 300000]);
    expect((await fsp.stat(path.join(out, 'owned-link'))).ino).toBe(owned.ino);
  });

  it('gives the same digest twice for the same tree, and a different one for another epoch', async () => {
    const a = await exportImage({ image: `rootfs:${root}`, target: 'det', version: '1.0.0', mediaRoot: path.join(dir, 'd1') });
    const b = await exportImage({ image: `rootfs:${root}`, target: 'det', version: '1.0.0', mediaRoot: path.join(dir, 'd2') });
    expect(b.manifest.digest).toBe(a.manifest.digest);
    const again = await exportImage({ image: `rootfs:${root}`, target: 'det', version: '1.0.0', mediaRoot: path.join(dir, 'd1') });
    expect(again.manifest.digest).toBe(a.manifest.digest);
    expect(again.blobsWritten).toBe(0);
    const c = await exportImage({ image: `rootfs:${root}`, target: 'det', version: '1.0.0', mediaRoot: path.join(dir, 'd3'), sourceDateEpoch: 1_700_000_000 });
    expect(c.manifest.digest).not.toBe(a.manifest.digest);
  });

  it('writes a config whose platform and created time come from the request', async () => {
    const media = path.join(dir, 'p');
    const r = await exportImage({ image: `rootfs:${root}`, target: 'arm', version: '1.0.0', mediaRoot: media, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' }, sourceDateEpoch: 86400, compress: 'zstd' });
    const oci = path.join(media, 'FERRY', 'oci', 'blobs', 'sha256');
    const man = JSON.parse(await fsp.readFile(path.join(oci, r.manifest.digest.slice(7)), 'utf8'));
    const cfg = JSON.parse(await fsp.readFile(path.join(oci, man.config.digest.slice(7)), 'utf8'));
    expect(cfg).toMatchObject({ architecture: 'arm64', os: 'linux', variant: 'v8', created: '1970-01-02T00:00:00Z' });
    expect(man.layers[0].mediaType).toBe('application/vnd.oci.image.layer.v1.tar+zstd');
    // the zstd CLI decodes the layer and its sha256 is the config's diff_id
    const tarSha = execFileSync('sh', ['-c', `zstd -dc ${path.join(oci, man.layers[0].digest.slice(7))} | sha256sum`]).toString().split(' ')[0];
    expect(`sha256:${tarSha}`).toBe(cfg.rootfs.diff_ids[0]);
  });
});
