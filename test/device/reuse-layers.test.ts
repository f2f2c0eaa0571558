/**
 * Incremental apply of layered images (device/reuse.ts, extract/apply.ts): layers the new
 * image shares with the slot's image (same diff_ids) are not read at all; when a shared layer
 * holds something the slot's old upper layers hid or changed, every layer is read. Either
 * way the slot must end exactly as a full write of the same image leaves it.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyUpdate } from '../../src/device/apply.js';
import { deviceDeps } from '../../src/device/deps.js';
import type { InstallPlan } from '../../src/device/plan.js';
import type { ProgressEvent } from '../../src/progress.js';
import { makeDevice, type TestDevice } from '../helpers/device.js';
import { makeStickKit, type StickKit } from '../helpers/device-stick.js';
import { type RawEntry, tarArchive, writeTestLayout } from '../helpers/layers.js';
import { snapshotTree } from './extract/tree-snapshot.js';

let kit: StickKit;
let tmp: string;
let stick: string;
const devices: TestDevice[] = [];

const dir = (name: string): RawEntry => ({ name, type: '5' });
const file = (name: string, data: string, mode = 0o644): RawEntry => ({ name, data, mode });

/** A base layer and two different upper layers over it: old 2.0.0 hides and changes base files, 2.1.0 does not. */
async function layeredImages(root: string): Promise<{ old: string; next: string; nextUp: string }> {
  const base = tarArchive([dir('etc/'), file('etc/conf', 'base conf\n'), dir('usr/'), file('usr/a', 'a from base\n'), file('usr/b', 'b from base\n'), dir('usr/lib/'), file('usr/lib/big', 'x'.repeat(200_000))]);
  const oldUp = tarArchive([dir('usr/'), file('usr/.wh.a', ''), file('usr/b', 'b changed by 2.0.0\n', 0o600), file('etc/only-2.0.0', 'old\n')]);
  const newUp = tarArchive([dir('etc/'), file('etc/conf', 'conf of 2.1.0\n'), file('etc/new', 'new in 2.1.0\n')]);
  const up2 = tarArchive([dir('usr/'), file('usr/b', 'b changed by 2.0.0\n', 0o600), file('usr/.wh.a', ''), file('etc/only-2.0.0', 'changed in 2.2.0\n'), file('etc/added', 'added\n')]);
  await writeTestLayout(path.join(root, 'old'), [{ tar: base }, { tar: oldUp }], 'l-2.0.0');
  await writeTestLayout(path.join(root, 'next'), [{ tar: base }, { tar: newUp }], 'l-2.1.0');
  await writeTestLayout(path.join(root, 'next-up'), [{ tar: base }, { tar: up2 }], 'l-2.2.0');
  return { old: `oci:${path.join(root, 'old')}:l-2.0.0`, next: `oci:${path.join(root, 'next')}:l-2.1.0`, nextUp: `oci:${path.join(root, 'next-up')}:l-2.2.0` };
}

beforeAll(async () => {
  kit = await makeStickKit();
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-files-layers-'));
  const l = await layeredImages(tmp);
  stick = await kit.makeStick([
    { image: 'v1', version: '1.0.0', counter: 100, fileIndex: true }, // the one-layer sample
    { image: 'v2', version: '1.1.0', counter: 110, fileIndex: true }, // the same layer + a diff layer with a whiteout and an opaque dir
    { image: 'v1', version: '2.0.0', counter: 200, input: l.old, fileIndex: true },
    { image: 'v1', version: '2.1.0', counter: 210, input: l.next, fileIndex: true },
    { image: 'v1', version: '2.2.0', counter: 220, input: l.nextUp, fileIndex: true },
  ]);
}, 120_000);
afterAll(async () => {
  for (const d of devices) await d.cleanup();
  await kit?.cleanup();
  await fsp.rm(tmp, { recursive: true, force: true });
});

async function device(): Promise<TestDevice> {
  const dev = await makeDevice();
  devices.push(dev);
  await kit.installTrust(dev.trustDir);
  return dev;
}

/** The tree a full write of `id` leaves. */
async function fullWrite(id: string): Promise<unknown> {
  const dev = await device();
  const r = await applyUpdate({ ...dev.opts, mediaRoot: stick, updateId: id }, deviceDeps);
  expect(r.plan.write?.mode).toBe('full');
  return snapshotTree(path.join(dev.root, 'slots', 'b'));
}

/** Install `from` in full, then `to` over it; returns the second apply and the slot. */
async function update(from: string, to: string, progress?: (e: ProgressEvent) => void) {
  const dev = await device();
  await applyUpdate({ ...dev.opts, mediaRoot: stick, updateId: from }, deviceDeps);
  const r = await applyUpdate({ ...dev.opts, mediaRoot: stick, updateId: to, ...(progress ? { progress } : {}) }, deviceDeps);
  return { r, slot: path.join(dev.root, 'slots', 'b') };
}

describe('incremental apply of layered images', () => {
  it('does not read the layer 1.1.0 shares with 1.0.0, and ends as a full write (whiteout and opaque dir applied)', async () => {
    const want = await fullWrite('kiosk-1.1.0');
    const read: number[] = [];
    const { r, slot } = await update('kiosk-1.0.0', 'kiosk-1.1.0', (e) => {
      if (e.step === 'write') read.push(e.bytesDone);
    });
    expect(r.plan.write).toMatchObject({ mode: 'incremental' });
    expect(r.plan.write!.reason).toMatch(/; 1 shared layer is not read$/);
    expect(r.bytesWritten).toBe(r.plan.write!.changedBytes);
    expect(snapshotTree(slot)).toEqual(want);
    // the first progress event after the start already counts the skipped base layer as done
    expect(read.length).toBeGreaterThan(1);
  });

  it('reads every layer when a shared layer holds what the old upper layer hid or changed, and ends as a full write', async () => {
    const want = await fullWrite('kiosk-2.1.0');
    const { r, slot } = await update('kiosk-2.0.0', 'kiosk-2.1.0');
    expect(r.plan.write).toMatchObject({ mode: 'incremental' });
    expect(r.plan.write!.reason).toMatch(/1 shared layer is not read/);
    expect(snapshotTree(slot)).toEqual(want);
    expect(fs.readFileSync(path.join(slot, 'usr/a'), 'utf8')).toBe('a from base\n');
    expect(fs.readFileSync(path.join(slot, 'usr/b'), 'utf8')).toBe('b from base\n');
    expect(fs.existsSync(path.join(slot, 'etc/only-2.0.0'))).toBe(false);
  });

  it('writes only the upper layer when nothing of the shared layer is needed, and goes back again', async () => {
    const want = await fullWrite('kiosk-2.2.0');
    const { r, slot } = await update('kiosk-2.0.0', 'kiosk-2.2.0');
    expect(r.plan.write).toMatchObject({ mode: 'incremental' });
    // only the two changed files of the upper layer (the 200 kB base file is never read or written)
    expect(r.bytesWritten).toBe('changed in 2.2.0\n'.length + 'added\n'.length);
    expect(snapshotTree(slot)).toEqual(want);
  });

  it('reads the signed file index from a checked copy only: a stick that answers a later read differently changes nothing, and the copy is removed', async () => {
    const own = await kit.makeStick([
      { image: 'v1', version: '1.0.0', counter: 100, fileIndex: true },
      { image: 'v2', version: '1.1.0', counter: 110, fileIndex: true },
    ]);
    const want = await fullWrite('kiosk-1.1.0');
    const dev = await device();
    await applyUpdate({ ...dev.opts, mediaRoot: own, updateId: 'kiosk-1.0.0' }, deviceDeps);
    let swapped = false;
    // after the plan has read the index, the stick answers with other bytes (a hostile USB device)
    const confirm = async (plan: InstallPlan): Promise<boolean> => {
      const f = path.join(own, 'FERRY', 'oci', 'blobs', 'sha256', plan.update.image.fileIndex!.digest.slice('sha256:'.length));
      await fsp.writeFile(f, Buffer.alloc(fs.statSync(f).size, 0x1f));
      swapped = true;
      return true;
    };
    const r = await applyUpdate({ ...dev.opts, mediaRoot: own, updateId: 'kiosk-1.1.0', confirm }, deviceDeps);
    expect(swapped).toBe(true);
    // the skipped layer's files are settled from the index, and the slot's record is written from it
    expect(r.plan.write!.reason).toMatch(/1 shared layer is not read/);
    expect(snapshotTree(path.join(dev.root, 'slots', 'b'))).toEqual(want);
    expect(fs.readdirSync(dev.stateDir).filter((n) => n.includes('signed-file-index'))).toEqual([]);
  });
});
