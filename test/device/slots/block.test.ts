import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSlot } from '../../../src/device/slots/registry.js';
import type { Slot } from '../../../src/device/types.js';
import { snapshotTree } from '../extract/tree-snapshot.js';
import { buildFidelityRootfs, gnuTarDir, tarArchive, writeTestLayout } from '../../helpers/layers.js';

// A real loop device over a 96 MiB sparse file: mkfs.ext4, mount, extract, umount for real.
const SIZE = 96 * 1024 * 1024;
let tmp: string;
let loop: string;
let stateDir: string;
let slot: Slot;
const run = (cmd: string, ...args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8' }).trim();
const mountedAt = (dev: string): string[] =>
  fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').filter((l) => l.startsWith(`${dev} `)).map((l) => l.split(' ')[1]!);

beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-block-'));
  const img = path.join(tmp, 'disk.img');
  run('truncate', '-s', String(SIZE), img);
  loop = run('losetup', '-f', '--show', img);
  stateDir = path.join(tmp, 'state');
  slot = createSlot('B', { type: 'block', device: loop, mkfsArgs: ['-L', 'ferry-b'] }, { stateDir });
});
afterAll(async () => {
  for (const m of loop ? mountedAt(loop) : []) run('umount', m);
  if (loop) run('losetup', '-d', loop);
  await fsp.rm(tmp, { recursive: true, force: true });
});

async function inspect<T>(f: (mnt: string) => T): Promise<T> {
  const mnt = await fsp.mkdtemp(path.join(tmp, 'ro-'));
  run('mount', '-o', 'ro', loop, mnt);
  try {
    return f(mnt);
  } finally {
    run('umount', mnt);
  }
}

describe('block slot on a real loop device', () => {
  it('reports the device size as available bytes', async () => {
    expect(await slot.availableBytes()).toBe(SIZE);
  });

  it('formats, writes a faithful root filesystem, syncs and unmounts', async () => {
    const src = path.join(tmp, 'src');
    await fsp.mkdir(src);
    await buildFidelityRootfs(src);
    const { layout, image } = await writeTestLayout(path.join(tmp, 'oci'), [{ tar: gnuTarDir(src), compression: 'zstd' }]);
    const r = await slot.write({ layout, image, ref: 'kiosk-1.0.0', progress: () => undefined });
    expect(r.details).toMatchObject({ device: loop, fsType: 'ext4' });
    expect(mountedAt(loop)).toEqual([]);
    expect(run('blkid', '-o', 'value', '-s', 'LABEL', loop)).toBe('ferry-b');
    const got = await inspect((mnt) => snapshotTree(mnt, ['lost+found']));
    const want = snapshotTree(src);
    expect(got.nodes['usr/bin/ping']!.xattrs!['security.capability']).toBe(want.nodes['usr/bin/ping']!.xattrs!['security.capability']);
    // mkfs made the root directory; compare everything below it
    delete got.nodes['.'];
    delete want.nodes['.'];
    expect(got).toEqual(want);
  });

  it('starts from a fresh file system each time and unmounts even when the image is refused', async () => {
    const bad = await writeTestLayout(path.join(tmp, 'oci-bad'), [{ tar: tarArchive([{ name: 'ok', data: 'ok' }, { name: '../../escape', data: 'x' }]) }]);
    await expect(slot.write({ ...bad, ref: 'bad', progress: () => undefined })).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
    expect(mountedAt(loop)).toEqual([]);
    expect(fs.readdirSync(path.join(stateDir, 'mnt', 'slot-B'))).toEqual([]);
    // the previous image is gone (fresh mkfs); "ok" may or may not have landed before tar was stopped
    const names = await inspect((mnt) => fs.readdirSync(mnt).sort());
    expect(names.filter((n) => n !== 'ok')).toEqual(['lost+found']);
    expect(fs.existsSync(path.join(stateDir, 'escape'))).toBe(false);
  });

  it('refuses a device that is mounted elsewhere (SLOT_BUSY) without formatting it', async () => {
    const good = await writeTestLayout(path.join(tmp, 'oci-good'), [{ tar: tarArchive([{ name: 'marker', data: 'v1' }]) }]);
    await slot.write({ ...good, ref: 'good', progress: () => undefined });
    const mnt = await fsp.mkdtemp(path.join(tmp, 'busy-'));
    run('mount', loop, mnt);
    try {
      await expect(slot.write({ ...good, ref: 'good', progress: () => undefined })).rejects.toMatchObject({ code: 'SLOT_BUSY' });
      expect(fs.readFileSync(path.join(mnt, 'marker'), 'utf8')).toBe('v1');
    } finally {
      run('umount', mnt);
    }
  });

  it('refuses a device path that is not a block device', async () => {
    const notDev = createSlot('A', { type: 'block', device: path.join(tmp, 'disk.img') }, { stateDir });
    const good = await writeTestLayout(path.join(tmp, 'oci-nd'), [{ tar: tarArchive([{ name: 'f', data: 'x' }]) }]);
    await expect(notDev.write({ ...good, ref: 'x', progress: () => undefined })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});
