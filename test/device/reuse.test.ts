/**
 * When an apply writes incrementally and when it falls back to a full write (device/reuse.ts),
 * on the small sample trees exported as single-layer rootfs images with a file index.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyUpdate } from '../../src/device/apply.js';
import { deviceDeps } from '../../src/device/deps.js';
import type { InstallPlan } from '../../src/device/plan.js';
import { makeDevice, type TestDevice } from '../helpers/device.js';
import { makeStickKit, type StickKit } from '../helpers/device-stick.js';
import { snapshotTree } from './extract/tree-snapshot.js';

let kit: StickKit;
let stick: string;
const devices: TestDevice[] = [];

beforeAll(async () => {
  kit = await makeStickKit();
  stick = await kit.makeStick([
    { image: 'v1', version: '1.0.0', counter: 100, input: `rootfs:${kit.samples.rootfsV1}`, fileIndex: true },
    { image: 'v1', version: '1.1.0', counter: 110, input: `rootfs:${kit.samples.rootfsV2}`, fileIndex: true },
    { image: 'v2', version: '1.2.0', counter: 120, fileIndex: true }, // the two-layer sample
    { image: 'v1', version: '1.3.0', counter: 130, input: `rootfs:${kit.samples.rootfsV2}` }, // no file index
  ]);
});
const loops: string[] = [];
const mounts: string[] = [];
afterAll(async () => {
  for (const m of mounts) if (fs.readFileSync('/proc/self/mounts', 'utf8').includes(` ${m} `)) execFileSync('umount', [m]);
  for (const l of loops) execFileSync('losetup', ['-d', l]);
  for (const d of devices) await d.cleanup();
  await kit.cleanup();
});

async function installed(policy: Record<string, unknown> = {}): Promise<{ dev: TestDevice; slot: string }> {
  const dev = await makeDevice({ extra: { policy } });
  devices.push(dev);
  await kit.installTrust(dev.trustDir);
  await applyUpdate({ ...dev.opts, mediaRoot: stick, updateId: 'kiosk-1.0.0' }, deviceDeps);
  return { dev, slot: path.join(dev.root, 'slots', 'b') };
}

describe('incremental or full', () => {
  it('writes 1.1.0 incrementally over 1.0.0: only the changed files, the rest in place', async () => {
    const { dev, slot } = await installed();
    const blob = fs.statSync(path.join(slot, 'usr/share/data/blob.bin')).ino;
    const r = await applyUpdate({ ...dev.opts, mediaRoot: stick, updateId: 'kiosk-1.1.0' }, deviceDeps);
    expect(r.plan.write).toMatchObject({ mode: 'incremental' });
    expect(r.bytesWritten).toBe(r.plan.write!.changedBytes);
    expect(r.bytesWritten).toBeLessThan(4096);
    expect(fs.statSync(path.join(slot, 'usr/share/data/blob.bin')).ino).toBe(blob);
    expect(fs.existsSync(path.join(slot, 'opt/app/old-a.txt'))).toBe(false);
    expect(fs.readFileSync(path.join(slot, 'opt/app/new.txt'), 'utf8')).toBe('new in 1.1.0\n');
  });

  it('writes a two-layer image over another base incrementally (every layer read); falls back to a full write without a file index on the stick', async () => {
    const { dev } = await installed();
    const two = await applyUpdate({ ...dev.opts, mediaRoot: stick, updateId: 'kiosk-1.2.0' }, deviceDeps);
    expect(two.plan.write).toMatchObject({ mode: 'incremental' });
    expect(two.plan.write!.reason).not.toMatch(/shared/); // 1.0.0 here was exported from a rootfs tree: no layer in common
    const none = await applyUpdate({ ...dev.opts, mediaRoot: stick, updateId: 'kiosk-1.3.0' }, deviceDeps);
    expect(none.plan.write).toEqual({ mode: 'full', reason: 'the update pins no file index (export --file-index)' });
  });

  it('with policy.verifySlotBeforeReuse hashes the slot and catches a change size and mtime hide', async () => {
    for (const verify of [false, true]) {
      const { dev, slot } = await installed({ verifySlotBeforeReuse: verify });
      const f = path.join(slot, 'usr/share/data/blob.bin');
      const st = fs.statSync(f);
      await fsp.writeFile(f, Buffer.alloc(st.size, 0x42));
      await fsp.utimes(f, st.atime, st.mtime);
      const r = await applyUpdate({ ...dev.opts, mediaRoot: stick, updateId: 'kiosk-1.1.0' }, deviceDeps);
      expect(r.plan.write).toMatchObject(verify ? { mode: 'full', reason: 'slot B has drifted from its image (1 difference)' } : { mode: 'incremental' });
    }
  });
});

describe('the signed file index is parsed only from a checked copy', () => {
  const blobOf = (media: string, digest: string) => path.join(media, 'FERRY', 'oci', 'blobs', 'sha256', digest.slice('sha256:'.length));

  it('a tampered index is refused by its digest before a byte of it is parsed (DIGEST_MISMATCH, not a decompression error): the write falls back to full', async () => {
    const own = await kit.makeStick([
      { image: 'v1', version: '1.0.0', counter: 100, input: `rootfs:${kit.samples.rootfsV1}`, fileIndex: true },
      { image: 'v1', version: '1.1.0', counter: 110, input: `rootfs:${kit.samples.rootfsV2}`, fileIndex: true },
    ]);
    const dev = await makeDevice();
    devices.push(dev);
    await kit.installTrust(dev.trustDir);
    await applyUpdate({ ...dev.opts, mediaRoot: own, updateId: 'kiosk-1.0.0' }, deviceDeps);
    // the plan of each try, seen at the confirmation (which cancels: nothing is written)
    const planOf = async (): Promise<InstallPlan> => {
      let seen: InstallPlan | undefined;
      await expect(applyUpdate({ ...dev.opts, mediaRoot: own, updateId: 'kiosk-1.1.0', confirm: async (p) => ((seen = p), false) }, deviceDeps)).rejects.toMatchObject({ code: 'CANCELLED' });
      return seen!;
    };
    const good = await planOf();
    expect(good.write).toMatchObject({ mode: 'incremental' });
    // same size, bytes no gzip reader accepts: parsed as they stream, they would fail decompression first
    const f = blobOf(own, good.update.image.fileIndex!.digest);
    await fsp.writeFile(f, Buffer.alloc(fs.statSync(f).size, 0x1f));
    const bad = await planOf();
    expect(bad.write?.mode).toBe('full');
    expect(bad.write?.reason).toMatch(/could not be compared \(DIGEST_MISMATCH/);
    expect(fs.readdirSync(dev.stateDir).filter((n) => n.includes('signed-file-index'))).toEqual([]);
  });
});

describe('incremental write of a block slot', () => {
  it('keeps the file system (checked clean with e2fsck -n), writes only what differs, and ends as a full write would', async () => {
    const dev = await makeDevice({ slots: () => ({ A: { type: 'block', device: '/dev/null' }, B: { type: 'block', device: '/dev/null' } }) });
    devices.push(dev);
    for (const s of ['a', 'b']) {
      const img = path.join(dev.root, `files-reuse-${s}.img`);
      await fsp.writeFile(img, '');
      await fsp.truncate(img, 64 * 1024 * 1024);
      loops.push(execFileSync('losetup', ['-f', '--show', img], { encoding: 'utf8' }).trim());
    }
    const [loopA, loopB] = loops.slice(-2) as [string, string];
    const cfg = JSON.parse(await fsp.readFile(dev.configFile, 'utf8'));
    cfg.slots = { A: { type: 'block', device: loopA }, B: { type: 'block', device: loopB } };
    await fsp.writeFile(dev.configFile, JSON.stringify(cfg));
    await kit.installTrust(dev.trustDir);
    await applyUpdate({ ...dev.opts, mediaRoot: stick, updateId: 'kiosk-1.0.0' }, deviceDeps);
    const mnt = path.join(dev.root, 'files-reuse-mnt');
    await fsp.mkdir(mnt);
    const inspect = <T>(f: () => T): T => {
      execFileSync('mount', ['-o', 'ro', loopB, mnt]);
      mounts.push(mnt);
      try {
        return f();
      } finally {
        execFileSync('umount', [mnt]);
      }
    };
    const before = inspect(() => fs.statSync(path.join(mnt, 'usr/share/data/blob.bin')).ino);
    const r = await applyUpdate({ ...dev.opts, mediaRoot: stick, updateId: 'kiosk-1.1.0' }, deviceDeps);
    expect(r.plan.write).toMatchObject({ mode: 'incremental' });
    const full = await makeDevice();
    devices.push(full);
    await kit.installTrust(full.trustDir);
    await applyUpdate({ ...full.opts, mediaRoot: stick, updateId: 'kiosk-1.1.0' }, deviceDeps);
    const want = snapshotTree(path.join(full.root, 'slots', 'b'));
    delete want.nodes['.'];
    inspect(() => {
      expect(fs.statSync(path.join(mnt, 'usr/share/data/blob.bin')).ino).toBe(before);
      const got = snapshotTree(mnt, ['lost+found']);
      delete got.nodes['.'];
      expect(got).toEqual(want);
    });
  });
});
