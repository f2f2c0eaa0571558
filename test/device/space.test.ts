/**
 * The space check against real small file systems (tmpfs mounts): an image whose
 * compressed payload fits but whose unpacked root filesystem does not is refused
 * before anything is written, and a dir slot counts the old image it will erase.
 */
import { execFileSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyUpdate } from '../../src/device/apply.js';
import { deviceDeps } from '../../src/device/deps.js';
import { availableBytesAt } from '../../src/device/slots/dir.js';
import { loadState } from '../../src/device/state.js';
import { exportImage } from '../../src/media/export.js';
import { publishUpdate } from '../../src/media/publish.js';
import { makeDevice, type TestDevice } from '../helpers/device.js';
import { makeStickKit, type StickKit } from '../helpers/device-stick.js';

const MiB = 1024 * 1024;
let kit: StickKit;
let stick: string;
let payload = 0;
let unpacked = 0;
const mounts: string[] = [];
const loops: string[] = [];
const devices: TestDevice[] = [];

/** A rootfs of ~40 MiB that gzip shrinks a lot (a repeated text line), exported and signed as kiosk-2.0.0. */
async function bigStick(): Promise<string> {
  const root = path.join(kit.dir, 'big-rootfs');
  await fsp.mkdir(path.join(root, 'etc'), { recursive: true });
  await fsp.writeFile(path.join(root, 'etc', 'os-release'), 'ID=kiosk\nVERSION_ID=2.0.0\n');
  await fsp.writeFile(path.join(root, 'data.txt'), Buffer.alloc(40 * MiB, 'kiosk content line, compressible\n'));
  const media = path.join(kit.dir, 'big-stick');
  const ex = await exportImage({ image: `rootfs:${root}`, target: 'kiosk', version: '2.0.0', mediaRoot: media });
  payload = ex.payloadBytes;
  unpacked = ex.unpackedBytes!;
  await publishUpdate({ mediaRoot: media, target: 'kiosk', version: '2.0.0', manifest: ex.manifest, platform: ex.platform, payloadBytes: ex.payloadBytes, chunkIndex: ex.chunkIndex, unpackedBytes: ex.unpackedBytes!, signerDir: kit.signerDir, compatible: ['acme,kiosk-v2'], counter: 200, expires: '30' });
  return media;
}

async function tmpfs(dir: string, mib: number): Promise<void> {
  await fsp.mkdir(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mib}m`, 'tmpfs', dir]);
  mounts.push(dir);
}

async function device(slotB: (root: string) => string | Record<string, unknown>): Promise<TestDevice> {
  const b = (root: string) => {
    const v = slotB(root);
    return typeof v === 'string' ? { type: 'dir', path: v } : v;
  };
  const dev = await makeDevice({ slots: (root) => ({ A: { type: 'dir', path: path.join(root, 'slots', 'a') }, B: b(root) }) });
  devices.push(dev);
  await kit.installTrust(dev.trustDir);
  return dev;
}

beforeAll(async () => {
  kit = await makeStickKit();
  stick = await bigStick();
});
afterAll(async () => {
  for (const m of mounts.reverse()) execFileSync('umount', [m]);
  for (const l of loops) execFileSync('losetup', ['-d', l]);
  for (const d of devices) await d.cleanup();
  await kit.cleanup();
});

describe('apply plans space with the unpacked size', () => {
  it('the sample image is ~40 MiB unpacked but a fraction of that compressed', () => {
    expect(unpacked).toBeGreaterThan(40 * MiB);
    expect(payload).toBeLessThan(2 * MiB);
  });

  it('refuses with NO_SPACE before writing when the unpacked image exceeds a 32 MiB slot although the payload fits: slot and bootloader untouched', async () => {
    const dev = await device((root) => path.join(root, 'slots', 'b'));
    const slotB = path.join(dev.root, 'slots', 'b');
    await tmpfs(slotB, 32);
    await fsp.writeFile(path.join(slotB, 'old-image.txt'), 'the previous release\n');
    const bootBefore = await fsp.readFile(dev.bootFile, 'utf8');
    const err = await applyUpdate({ ...dev.opts, mediaRoot: stick }, deviceDeps).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'NO_SPACE', message: `slot B has ${32 * MiB} bytes free but kiosk-2.0.0 needs ${unpacked} (unpacked size): use a larger slot or free space on it` });
    expect(await fsp.readdir(slotB)).toEqual(['old-image.txt']);
    expect(await fsp.readFile(dev.bootFile, 'utf8')).toBe(bootBefore);
    const state = await loadState(dev.stateDir);
    expect(state.slots.B.status).toBe('empty');
    expect(state.lastResult).toMatchObject({ result: 'nothing-to-do', code: 'NO_SPACE' });
  });

  it('refuses a 32 MiB block slot (real loop device with ext4) before mkfs: the old file system stays', async () => {
    const img = path.join(kit.dir, 'disk-b.img');
    await fsp.writeFile(img, '');
    await fsp.truncate(img, 32 * MiB);
    const loop = execFileSync('losetup', ['-f', '--show', img], { encoding: 'utf8' }).trim();
    loops.push(loop);
    execFileSync('mkfs.ext4', ['-q', '-F', '-L', 'old-b', loop]);
    const uuid = () => execFileSync('blkid', ['-s', 'UUID', '-o', 'value', loop], { encoding: 'utf8' }).trim();
    const before = uuid();
    const dev = await device(() => ({ type: 'block', device: loop }));
    const bootBefore = await fsp.readFile(dev.bootFile, 'utf8');
    await expect(applyUpdate({ ...dev.opts, mediaRoot: stick }, deviceDeps)).rejects.toMatchObject({ code: 'NO_SPACE', message: expect.stringContaining(`has ${32 * MiB} bytes free but kiosk-2.0.0 needs ${unpacked} (unpacked size)`) });
    expect(uuid()).toBe(before); // not re-formatted
    expect(await fsp.readFile(dev.bootFile, 'utf8')).toBe(bootBefore);
    expect((await loadState(dev.stateDir)).slots.B.status).toBe('empty');
  });

  it('a dir slot sharing a file system counts the old image it erases first, so an update that fits only then is installed', async () => {
    const fsRoot = path.join(kit.dir, 'shared-fs');
    await tmpfs(fsRoot, 64);
    const slotB = path.join(fsRoot, 'slots', 'b');
    await fsp.mkdir(path.join(slotB, 'usr'), { recursive: true });
    await fsp.writeFile(path.join(slotB, 'usr', 'old.bin'), Buffer.alloc(30 * MiB, 1));
    await fsp.writeFile(path.join(fsRoot, 'other-data.bin'), Buffer.alloc(4 * MiB, 2));
    const free = (await fsp.statfs(fsRoot)).bavail * (await fsp.statfs(fsRoot)).bsize;
    expect(free).toBeLessThan(unpacked); // free space alone would refuse it
    const du = Number(execFileSync('du', ['-s', '--one-file-system', '-B1', slotB], { encoding: 'utf8' }).split('\t')[0]);
    const st = await fsp.stat(slotB);
    // du counts the directory itself, which is kept
    expect(await availableBytesAt(slotB)).toBe(free + du - st.blocks * 512);
    // too many entries to count: the conservative free-space-only number
    expect(await availableBytesAt(slotB, 1)).toBe(free);
    // the free space alone is enough for what is asked: the contents are not counted
    expect(await availableBytesAt(slotB, undefined, free)).toBe(free);
    // not enough: counted as before
    expect(await availableBytesAt(slotB, undefined, free + 1)).toBe(free + du - st.blocks * 512);

    const dev = await device(() => slotB);
    const r = await applyUpdate({ ...dev.opts, mediaRoot: stick }, deviceDeps);
    expect(r.plan).toMatchObject({ target: 'B', space: { measure: 'unpacked', neededBytes: unpacked, ok: true } });
    expect((await fsp.stat(path.join(slotB, 'data.txt'))).size).toBe(40 * MiB);
    await expect(fsp.access(path.join(slotB, 'usr', 'old.bin'))).rejects.toThrow();
    expect((await fsp.stat(path.join(fsRoot, 'other-data.bin'))).size).toBe(4 * MiB);
  });

  it('a file hard-linked from outside the slot frees nothing when erased, so it is not counted', async () => {
    const fsRoot = path.join(kit.dir, 'links-fs');
    await tmpfs(fsRoot, 16);
    const slot = path.join(fsRoot, 'slot');
    await fsp.mkdir(slot);
    await fsp.writeFile(path.join(fsRoot, 'keep.bin'), Buffer.alloc(4 * MiB, 3));
    await fsp.link(path.join(fsRoot, 'keep.bin'), path.join(slot, 'linked.bin'));
    await fsp.writeFile(path.join(slot, 'a.bin'), Buffer.alloc(2 * MiB, 4));
    await fsp.link(path.join(slot, 'a.bin'), path.join(slot, 'b.bin'));
    const s = await fsp.statfs(fsRoot);
    expect(await availableBytesAt(slot)).toBe(s.bavail * s.bsize + 2 * MiB);
  });
});
