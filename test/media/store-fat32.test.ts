import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFerryError } from '../../src/errors.js';
import { exportImage } from '../../src/media/export.js';
import { checkStoreCapacity, FAT32_MAX_FILE, fileSystemOf, isFat, MSDOS_SUPER_MAGIC, openMediaStore } from '../../src/media/store.js';
import { buildSamplesInTemp, type SampleImages } from '../helpers/samples.js';
import { mediaState, putIndex, tempDir } from './fixtures.js';

/**
 * A real FAT32 stick: a 64 MiB image formatted by mkfs.vfat -F 32 (dosfstools) on a loop
 * device, mounted by the kernel's vfat driver, or, on kernels built without it (this
 * project's VMs), by fusefat (FUSE): statfs then says FUSE and ferry has to read the
 * mount type to know the stick is FAT.
 */
const KERNEL_VFAT = /\svfat$/m.test(readFileSync('/proc/filesystems', 'utf8'));
const FUSE_SUPER_MAGIC = 0x65735546;
let s: SampleImages & { dir: string };
let dir: string;
let img: string;
let stick: string;
let loop: string | undefined;
let fuse: ChildProcess | undefined;
let mounted = false;

const isMounted = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === stick);

/** fusefat answers once mounted: its root is a directory and statfs says FUSE. */
async function fuseReady(): Promise<boolean> {
  if (!isMounted()) return false;
  try {
    return (await fsp.stat(stick)).isDirectory() && Number((await fsp.statfs(stick)).type) === FUSE_SUPER_MAGIC;
  } catch {
    return false;
  }
}

async function mountStick(): Promise<void> {
  if (KERNEL_VFAT) {
    execFileSync('mount', ['-t', 'vfat', loop!, stick]);
  } else {
    fuse = spawn('fusefat', ['-f', '-o', 'rw+', loop!, stick], { stdio: 'ignore' });
    for (let i = 0; i < 200 && !(await fuseReady()); i++) await new Promise((r) => setTimeout(r, 50));
  }
  expect(isMounted()).toBe(true);
  mounted = true;
}

async function unmountStick(): Promise<void> {
  if (!mounted) return;
  execFileSync('umount', [stick]);
  mounted = false;
  const f = fuse;
  if (f && f.exitCode === null) await new Promise((r) => f.once('exit', r));
  fuse = undefined;
}

beforeAll(async () => {
  s = await buildSamplesInTemp();
  dir = await tempDir('ferry-fat32-');
  img = path.join(dir, 'stick.img');
  await fsp.writeFile(img, '');
  await fsp.truncate(img, 64 * 1024 * 1024);
  // not labelled FERRY: fusefat 0.1a lists the volume label as a root entry, which would shadow the FERRY/ folder
  execFileSync('mkfs.vfat', ['-F', '32', '-n', 'STICK', img], { stdio: 'ignore' });
  loop = execFileSync('losetup', ['--find', '--show', img], { encoding: 'utf8' }).trim();
  stick = path.join(dir, 'stick');
  await fsp.mkdir(stick);
  await mountStick();
});
afterAll(async () => {
  await unmountStick();
  if (loop) execFileSync('losetup', ['-d', loop]);
  await fsp.rm(s.dir, { recursive: true, force: true });
  await fsp.rm(dir, { recursive: true, force: true });
});

/** sha256 of a file, streamed (a sparse file reads back as zeros without using disk). */
async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 4 << 20 })) h.update(chunk as Buffer);
  return `sha256:${h.digest('hex')}`;
}

/**
 * An oci: source whose only layer is 4 GiB of zeros (one byte over FAT32's limit): a sparse
 * file, so no disk is used; its digest is really computed. All-zero blocks are a valid,
 * empty tar (the end marker), so the image is honest: diff_id = digest of an uncompressed layer.
 */
async function hugeLayerSource(): Promise<{ image: string; layerDigest: string; size: number }> {
  const layout = path.join(dir, 'huge-src');
  const blobs = path.join(layout, 'blobs', 'sha256');
  await fsp.mkdir(blobs, { recursive: true });
  const size = FAT32_MAX_FILE + 1;
  const sparse = path.join(dir, 'zeros.tar');
  await fsp.writeFile(sparse, '');
  await fsp.truncate(sparse, size);
  const digest = await sha256File(sparse);
  await fsp.rename(sparse, path.join(blobs, digest.slice(7)));
  const put = async (o: object, mediaType: string) => {
    const bytes = Buffer.from(JSON.stringify(o));
    const d = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    await fsp.writeFile(path.join(blobs, d.slice(7)), bytes);
    return { mediaType, digest: d, size: bytes.length };
  };
  const config = await put({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [digest] } }, 'application/vnd.oci.image.config.v1+json');
  const layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest, size };
  const manifest = await put({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [layer] }, 'application/vnd.oci.image.manifest.v1+json');
  await putIndex(layout, [{ ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'huge' } }]);
  return { image: `oci:${layout}:huge`, layerDigest: digest, size };
}

describe('a real FAT32 stick (mkfs.vfat -F 32, loop-mounted)', () => {
  it('is seen as FAT (statfs type, or the mount type under FUSE), and the capacity check refuses a blob of 4 GiB but not a small one', async () => {
    const fs = await fileSystemOf(stick);
    if (KERNEL_VFAT) expect(fs.type).toBe(MSDOS_SUPER_MAGIC);
    else expect([fs.type, fs.mountType]).toEqual([FUSE_SUPER_MAGIC, 'fuse.fusefat']);
    expect(isFat(fs)).toBe(true);
    const store = await openMediaStore(stick);
    const err = await checkStoreCapacity(store, [{ what: 'blob sha256:big', size: FAT32_MAX_FILE + 1 }]).catch((e: unknown) => e);
    expect(isFerryError(err, 'FILE_TOO_LARGE_FOR_FILESYSTEM')).toBe(true);
    await expect(checkStoreCapacity(store, [{ what: 'blob sha256:small', size: 1024 * 1024 }])).resolves.toBeUndefined();
  });

  it('refuses, before writing any blob, an export whose layer is 4 GiB, naming the blob and the limit', async () => {
    const src = await hugeLayerSource();
    const media = path.join(stick, 'huge');
    await fsp.mkdir(media);
    const freeBefore = Number((await fsp.statfs(stick)).bfree);
    const err = await exportImage({ image: src.image, target: 'huge', version: '1.0.0', mediaRoot: media }).catch((e: unknown) => e);
    expect(isFerryError(err, 'FILE_TOO_LARGE_FOR_FILESYSTEM')).toBe(true);
    const msg = (err as Error).message;
    expect(msg).toContain(src.layerDigest);
    expect(msg).toContain(String(FAT32_MAX_FILE));
    expect((err as { details?: object }).details).toEqual({ blob: `blob ${src.layerDigest}`, size: src.size, limit: FAT32_MAX_FILE });
    expect(await mediaState(media)).toEqual({ blobs: [], refs: [] });
    // only FERRY/'s folders and oci-layout were created: a few clusters, not a byte of the layer
    expect(freeBefore - Number((await fsp.statfs(stick)).bfree)).toBeLessThan(16);
    await fsp.rm(media, { recursive: true });
  }, 120_000);

  it('takes a normal small export, which skopeo inspect reads back from the stick', async () => {
    const r = await exportImage({ image: s.v1, target: 'kiosk', version: '1.0.0', mediaRoot: stick });
    expect(r.manifest.digest).toBe(s.v1Manifest.digest);
    expect(await mediaState(stick)).toEqual({ blobs: expect.any(Array), refs: ['kiosk-1.0.0'] });
    const info = JSON.parse(execFileSync('skopeo', ['inspect', `oci:${path.join(stick, 'FERRY', 'oci')}:kiosk-1.0.0`], { encoding: 'utf8' })) as { Digest: string; Layers: string[] };
    expect(info.Digest).toBe(r.manifest.digest);
    expect(info.Layers.length).toBeGreaterThan(0);
  });

  it('is still a clean FAT32 file system after ferry wrote to it (fsck.vfat -n)', async () => {
    await unmountStick();
    const out = execFileSync('fsck.vfat', ['-n', img], { encoding: 'utf8' });
    expect(out).toMatch(/\d+ files, \d+\/\d+ clusters/);
  });
});
