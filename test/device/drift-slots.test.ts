/**
 * Drift on real slots: a block slot on a loop device (mounted read-only for the walk, or read
 * where it is already mounted) and a real Debian tree (debootstrap minbase) installed as an image.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyUpdate } from '../../src/device/apply.js';
import { deviceDeps } from '../../src/device/deps.js';
import { driftSlot } from '../../src/device/drift.js';
import { readIndexFile, slotIndexPath } from '../../src/device/files/index-store.js';
import { makeChroot } from '../helpers/chroot.js';
import { makeDevice, type TestDevice } from '../helpers/device.js';
import { makeStickKit, type StickKit } from '../helpers/device-stick.js';

let kit: StickKit;
const devices: TestDevice[] = [];
const loops: string[] = [];
const mounts: string[] = [];
const mountsOf = (dev: string): string[] => fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').filter((l) => l.startsWith(`${dev} `)).map((l) => l.split(' ')[1]!);

beforeAll(async () => {
  kit = await makeStickKit();
});
afterAll(async () => {
  for (const m of mounts.reverse()) if (fs.readFileSync('/proc/self/mounts', 'utf8').includes(` ${m} `)) execFileSync('umount', [m]);
  for (const l of loops) {
    for (const m of mountsOf(l)) execFileSync('umount', [m]);
    execFileSync('losetup', ['-d', l]);
  }
  for (const d of devices) await d.cleanup();
  await kit.cleanup();
});

describe('device drift on a block slot', () => {
  it('mounts an unmounted slot read-only, finds it clean after install, reports a change made on it, and leaves nothing mounted', async () => {
    const dev = await makeDevice({ slots: () => ({ A: { type: 'block', device: '/dev/null' }, B: { type: 'block', device: '/dev/null' } }) });
    devices.push(dev);
    for (const s of ['a', 'b']) {
      const img = path.join(dev.root, `files-drift-slot-${s}.img`);
      await fsp.writeFile(img, '');
      await fsp.truncate(img, 64 * 1024 * 1024);
      loops.push(execFileSync('losetup', ['-f', '--show', img], { encoding: 'utf8' }).trim());
    }
    const [loopA, loopB] = loops.slice(-2) as [string, string];
    const cfg = JSON.parse(await fsp.readFile(dev.configFile, 'utf8'));
    cfg.slots = { A: { type: 'block', device: loopA }, B: { type: 'block', device: loopB } };
    await fsp.writeFile(dev.configFile, JSON.stringify(cfg));
    await kit.installTrust(dev.trustDir);
    const stick = await kit.makeStick([{ image: 'v1', version: '1.0.0', counter: 100 }]);
    await applyUpdate({ ...dev.opts, mediaRoot: stick }, deviceDeps);

    const clean = await driftSlot({ ...dev.opts, slot: 'B' }, deviceDeps);
    expect(clean.items).toEqual([]); // /lost+found made by mkfs is not drift
    expect(clean.entriesChecked).toBeGreaterThan(5);
    expect(mountsOf(loopB)).toEqual([]);

    const mnt = path.join(dev.root, 'files-drift-mnt');
    await fsp.mkdir(mnt);
    execFileSync('mount', [loopB, mnt]);
    mounts.push(mnt);
    await fsp.chmod(path.join(mnt, 'usr/bin/hello'), 0o700);
    execFileSync('setfattr', ['-n', 'user.note', '-v', 'changed', path.join(mnt, 'etc/hostname')]);
    // Mounted elsewhere (as the running system would be): read where it is, and left mounted.
    const there = await driftSlot({ ...dev.opts, slot: 'B' }, deviceDeps);
    expect(there.items.map((i) => `${i.change} ${i.path} ${i.details?.join('; ')}`)).toEqual([
      'metadata /etc/hostname xattrs added',
      'metadata /usr/bin/hello mode 0755 -> 0700',
      'metadata /usr/bin/hello-again mode 0755 -> 0700', // a hardlink: the same inode
    ]);
    expect(mountsOf(loopB)).toEqual([mnt]);
    execFileSync('umount', [mnt]);
    const again = await driftSlot({ ...dev.opts, slot: 'B', ignore: ['/usr/bin/**'] }, deviceDeps);
    expect(again.items.map((i) => i.path)).toEqual(['/etc/hostname']);
    expect(mountsOf(loopB)).toEqual([]);
  });
});

describe('device drift on a real Debian tree', () => {
  it('finds a debootstrap minbase root installed as an image clean right after install, fully and with --fast', async () => {
    const chroot = await makeChroot('ferry-files-minbase-');
    try {
      const dev = await makeDevice();
      devices.push(dev);
      await kit.installTrust(dev.trustDir);
      const stick = await kit.makeStick([{ image: 'v1', version: '2.0.0', counter: 200, input: `rootfs:${chroot.root}` }]);
      await applyUpdate({ ...dev.opts, mediaRoot: stick }, deviceDeps);
      const index = await readIndexFile(slotIndexPath(dev.stateDir, 'B'), 'index');
      const t0 = performance.now();
      const full = await driftSlot({ ...dev.opts, slot: 'B' }, deviceDeps);
      const t1 = performance.now();
      const fast = await driftSlot({ ...dev.opts, slot: 'B', fast: true }, deviceDeps);
      const t2 = performance.now();
      expect(full.items).toEqual([]);
      expect(fast.items).toEqual([]);
      expect(full.entriesChecked).toBe(index!.entries.length + (index!.entries.some((e) => e.path === '') ? 0 : 1));
      expect(full.filesHashed).toBe(index!.entries.filter((e) => e.type === 'file').length);
      expect(fast.filesHashed).toBe(0);
      const size = (await fsp.stat(slotIndexPath(dev.stateDir, 'B'))).size;
      // Measured figures for the README (not asserted: timing is not a unit-test property).
      console.log(`minbase: ${index!.entries.length} entries, ${full.bytesHashed} bytes hashed; index ${size} bytes gzip; drift ${Math.round(t1 - t0)} ms full, ${Math.round(t2 - t1)} ms --fast`);
      await fsp.writeFile(path.join(dev.root, 'slots', 'b', 'etc', 'debian_version'), 'tampered\n');
      const after = await driftSlot({ ...dev.opts, slot: 'B', fast: true }, deviceDeps);
      expect(after.items.map((i) => `${i.change} ${i.path}`)).toEqual(['content /etc/debian_version']);
    } finally {
      await chroot.cleanup();
    }
    // a chroot build, an export and an install of ~10k files: 120 s was marginal at load 15+
  }, 300_000);
});
