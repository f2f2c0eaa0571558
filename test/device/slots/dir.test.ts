import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { refuseBootedRoot } from '../../../src/device/slots/dir.js';
import { createSlot } from '../../../src/device/slots/registry.js';
import { tarArchive, writeTestLayout } from '../../helpers/layers.js';

let tmp: string;
beforeEach(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-dirslot-'));
});
afterEach(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

async function image(files: Record<string, string>) {
  return writeTestLayout(path.join(tmp, `oci-${Object.keys(files).join('-')}`), [{ tar: tarArchive(Object.entries(files).map(([name, data]) => ({ name, data }))) }]);
}

describe('dir slot', () => {
  it('replaces the previous image but keeps the directory itself (it may be a mount point)', async () => {
    const dir = path.join(tmp, 'slot-b');
    const slot = createSlot('B', { type: 'dir', path: dir }, { stateDir: path.join(tmp, 'state') });
    const v1 = await image({ 'etc/version': '1', 'old-only': 'x' });
    await slot.write({ ...v1, ref: 'k-1', progress: () => undefined });
    const ino = fs.statSync(dir).ino;
    const v2 = await image({ 'etc/version': '2' });
    const r = await slot.write({ ...v2, ref: 'k-2', progress: () => undefined });
    expect(fs.readdirSync(dir).sort()).toEqual(['etc']);
    expect(fs.readFileSync(path.join(dir, 'etc/version'), 'utf8')).toBe('2');
    expect(fs.statSync(dir).ino).toBe(ino);
    expect(r.bytesRead).toBeGreaterThan(0);
    expect(await slot.availableBytes()).toBeGreaterThan(0);
  });

  it('removes old entries whose names are not UTF-8 before writing, so nothing of the previous image survives', async () => {
    const dir = path.join(tmp, 'slot-b');
    const slot = createSlot('B', { type: 'dir', path: dir }, { stateDir: path.join(tmp, 'state') });
    await fsp.mkdir(dir);
    const oddName = Buffer.concat([Buffer.from(`${dir}/old-`), Buffer.from([0xff, 0xfe])]);
    await fsp.writeFile(oddName, 'left over');
    await fsp.mkdir(Buffer.concat([oddName, Buffer.from('-dir')]));
    const v2 = await image({ 'etc/version': '2' });
    await slot.write({ ...v2, ref: 'k-2', progress: () => undefined });
    expect(fs.readdirSync(dir, { encoding: 'buffer' }).map((b) => b.toString('latin1'))).toEqual(['etc']);
  });

  it('syncs the slot file system (sync -f) after extracting, and fails with SLOT_WRITE_FAILED when it cannot', async () => {
    const bin = path.join(tmp, 'bin');
    await fsp.mkdir(bin);
    const log = path.join(tmp, 'sync.log');
    await fsp.writeFile(path.join(bin, 'sync'), `#!/bin/sh\necho "$@" >> ${log}\n[ -e ${tmp}/sync-fails ] && { echo "I/O error" >&2; exit 1; }\nexec /usr/bin/sync "$@"\n`, { mode: 0o755 });
    const savedPath = process.env.PATH;
    process.env.PATH = `${bin}:${savedPath}`;
    try {
      const dir = path.join(tmp, 'slot-s');
      const slot = createSlot('B', { type: 'dir', path: dir }, { stateDir: path.join(tmp, 'state') });
      await slot.write({ ...(await image({ 'etc/a': '1' })), ref: 'k-1', progress: () => undefined });
      expect(fs.readFileSync(log, 'utf8').trim()).toBe(`-f ${dir}`);
      await fsp.writeFile(path.join(tmp, 'sync-fails'), '');
      await expect(slot.write({ ...(await image({ 'etc/b': '2' })), ref: 'k-2', progress: () => undefined })).rejects.toMatchObject({ code: 'SLOT_WRITE_FAILED', message: expect.stringMatching(/cannot sync .*I\/O error/) });
    } finally {
      process.env.PATH = savedPath;
    }
  });

  it('refuses to erase a file system mounted inside the slot (SLOT_BUSY) and leaves it intact', async () => {
    const dir = path.join(tmp, 'slot-a');
    const inner = path.join(dir, 'data');
    await fsp.mkdir(inner, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', inner]);
    try {
      await fsp.writeFile(path.join(inner, 'precious'), 'keep');
      const slot = createSlot('A', { type: 'dir', path: dir }, { stateDir: path.join(tmp, 'state') });
      await expect(slot.write({ ...(await image({ f: 'x' })), ref: 'k', progress: () => undefined })).rejects.toMatchObject({ code: 'SLOT_BUSY' });
      expect(fs.readFileSync(path.join(inner, 'precious'), 'utf8')).toBe('keep');
    } finally {
      execFileSync('umount', [inner]);
    }
  });

  it('fails with SLOT_WRITE_FAILED when the old image cannot be removed (an immutable file)', async () => {
    const dir = path.join(tmp, 'slot-i');
    await fsp.mkdir(path.join(dir, 'etc'), { recursive: true });
    const stuck = path.join(dir, 'etc', 'stuck');
    await fsp.writeFile(stuck, 'x');
    execFileSync('chattr', ['+i', stuck]);
    try {
      const slot = createSlot('A', { type: 'dir', path: dir }, { stateDir: path.join(tmp, 'state') });
      await expect(slot.write({ ...(await image({ f: 'x' })), ref: 'k', progress: () => undefined })).rejects.toMatchObject({ code: 'SLOT_WRITE_FAILED', message: expect.stringContaining('stuck') });
    } finally {
      execFileSync('chattr', ['-i', stuck]);
    }
  });

  it('reports the whole file system as available when the slot is a mount point of its own', async () => {
    const dir = path.join(tmp, 'slot-mnt');
    await fsp.mkdir(dir);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', dir]);
    try {
      await fsp.writeFile(path.join(dir, 'old-image'), Buffer.alloc(2 << 20));
      const slot = createSlot('A', { type: 'dir', path: dir }, { stateDir: path.join(tmp, 'state') });
      expect(await slot.availableBytes()).toBe(8 << 20);
    } finally {
      execFileSync('umount', [dir]);
    }
  });

  it("refuses a path that resolves to the running system's root (checked against a stand-in root)", async () => {
    const fakeRoot = path.join(tmp, 'fake-root');
    await fsp.mkdir(fakeRoot);
    await fsp.symlink(fakeRoot, path.join(tmp, 'alias'));
    await expect(refuseBootedRoot(path.join(tmp, 'alias'), fakeRoot)).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
    await expect(refuseBootedRoot(tmp, fakeRoot)).resolves.toBeUndefined();
    await expect(refuseBootedRoot(path.join(tmp, 'alias'))).resolves.toBeUndefined();
  });

  it('says which layer a refused entry came from', async () => {
    const dir = path.join(tmp, 'slot-b');
    const slot = createSlot('B', { type: 'dir', path: dir }, { stateDir: path.join(tmp, 'state') });
    const bad = await writeTestLayout(path.join(tmp, 'oci-bad'), [{ tar: tarArchive([{ name: '../x', data: 'x' }]) }]);
    await expect(slot.write({ ...bad, ref: 'k', progress: () => undefined })).rejects.toMatchObject({ code: 'UNSAFE_PATH', message: expect.stringMatching(/^layer 1\/1 \(sha256:[0-9a-f]{12}\): entry "\.\.\/x" has a "\.\." component/) });
  });
});
