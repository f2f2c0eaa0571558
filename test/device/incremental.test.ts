/**
 * Incremental apply on a real Debian tree (debootstrap minbase): 1.1.0 changes, adds and
 * deletes files, changes owners, modes and xattrs (a file capability too), replaces a
 * directory by a file and a file by a directory; 1.2.0 goes back to the 1.0.0 tree. Each
 * incremental write must leave exactly the tree a full write of the same image leaves.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyUpdate } from '../../src/device/apply.js';
import { deviceDeps } from '../../src/device/deps.js';
import { minbaseTarball } from '../helpers/chroot.js';
import { makeDevice, type TestDevice } from '../helpers/device.js';
import { makeStickKit, type StickKit } from '../helpers/device-stick.js';
import { snapshotTree } from './extract/tree-snapshot.js';

let kit: StickKit;
let tmp: string;
let stick: string;
const devices: TestDevice[] = [];

/** 1.1.0: the 1.0.0 tree with every kind of change. */
async function makeV2(v1: string, v2: string): Promise<void> {
  execFileSync('cp', ['-a', `${v1}/.`, v2]);
  const p = (rel: string): string => path.join(v2, rel);
  await fsp.writeFile(p('etc/debian_version'), '12.99-ferry\n');
  await fsp.appendFile(p('usr/bin/ls'), Buffer.alloc(4096, 1));
  await fsp.writeFile(p('etc/ferry-new.conf'), 'added in 1.1.0\n');
  await fsp.mkdir(p('opt/new'), { recursive: true });
  await fsp.writeFile(p('opt/new/big.bin'), Buffer.alloc(1024 * 1024, 7));
  await fsp.rm(p('etc/motd'));
  await fsp.rm(p('usr/share/doc/apt'), { recursive: true });
  await fsp.chown(p('etc/hostname'), 1000, 1000);
  await fsp.chmod(p('usr/bin/cat'), 0o700);
  execFileSync('setfattr', ['-n', 'user.ferry', '-v', 'changed', p('etc/passwd')]);
  execFileSync('setcap', ['cap_net_raw+ep', p('usr/bin/ls')]);
  await fsp.rm(p('usr/share/doc/bash'), { recursive: true });
  await fsp.writeFile(p('usr/share/doc/bash'), 'a file where a directory was\n');
  await fsp.rm(p('etc/issue'));
  await fsp.mkdir(p('etc/issue'));
  await fsp.writeFile(p('etc/issue/inside'), 'a directory where a file was\n');
}

beforeAll(async () => {
  kit = await makeStickKit();
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-files-incr-'));
  const v1 = path.join(tmp, 'v1');
  const v2 = path.join(tmp, 'v2');
  await fsp.mkdir(v1);
  await fsp.mkdir(v2);
  execFileSync('tar', ['-C', v1, '--numeric-owner', '-xf', minbaseTarball()]);
  await makeV2(v1, v2);
  stick = await kit.makeStick([
    { image: 'v1', version: '1.0.0', counter: 100, input: `rootfs:${v1}`, fileIndex: true },
    { image: 'v1', version: '1.1.0', counter: 110, input: `rootfs:${v2}`, fileIndex: true },
    { image: 'v1', version: '1.2.0', counter: 120, input: `rootfs:${v1}`, fileIndex: true },
  ]);
  await fsp.rm(v1, { recursive: true, force: true });
  await fsp.rm(v2, { recursive: true, force: true });
}, 600_000);
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

/** The metadata signature of a tree, plus every non-directory's mtime (ns). */
function signature(root: string): unknown {
  const snap = snapshotTree(root);
  const times: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const name of fs.readdirSync(path.join(root, rel)).sort()) {
      const child = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(path.join(root, child), { bigint: true });
      if (st.isDirectory()) walk(child);
      else times[child] = String(st.mtimeNs);
    }
  };
  walk('');
  return { snap, times };
}

describe('incremental apply', () => {
  it('writes only what differs and leaves exactly the tree of a full write, there and back again', async () => {
    const full = await device();
    await applyUpdate({ ...full.opts, mediaRoot: stick, updateId: 'kiosk-1.1.0' }, deviceDeps);
    const want11 = signature(path.join(full.root, 'slots', 'b'));

    const dev = await device();
    const slot = path.join(dev.root, 'slots', 'b');
    const first = await applyUpdate({ ...dev.opts, mediaRoot: stick, updateId: 'kiosk-1.0.0' }, deviceDeps);
    expect(first.plan.write).toMatchObject({ mode: 'full', reason: 'slot B holds no recorded image' });
    const want10 = signature(slot);
    const bashIno = fs.statSync(path.join(slot, 'usr/bin/bash')).ino;

    const up = await applyUpdate({ ...dev.opts, mediaRoot: stick, updateId: 'kiosk-1.1.0' }, deviceDeps);
    expect(up.plan.write?.mode).toBe('incremental');
    const changed = up.plan.write!.changedBytes!;
    expect(changed).toBeLessThan(up.plan.write!.totalBytes! / 10);
    expect(up.bytesWritten).toBeGreaterThan(1024 * 1024);
    expect(up.bytesWritten).toBeLessThanOrEqual(1.2 * changed);
    expect(fs.statSync(path.join(slot, 'usr/bin/bash')).ino).toBe(bashIno); // left in place
    expect(signature(slot)).toEqual(want11);
    console.log(`incremental 1.0.0 -> 1.1.0: wrote ${up.bytesWritten} of ${up.plan.write!.totalBytes} bytes (${up.plan.write!.reason})`);

    const back = await applyUpdate({ ...dev.opts, mediaRoot: stick, updateId: 'kiosk-1.2.0' }, deviceDeps);
    expect(back.plan.write?.mode).toBe('incremental');
    expect(signature(slot)).toEqual(want10);
  });

  it('falls back to a full write when the slot has drifted, and says why', async () => {
    const dev = await device();
    await applyUpdate({ ...dev.opts, mediaRoot: stick, updateId: 'kiosk-1.0.0' }, deviceDeps);
    await fsp.writeFile(path.join(dev.root, 'slots', 'b', 'etc', 'hostname'), 'edited on the device\n');
    const r = await applyUpdate({ ...dev.opts, mediaRoot: stick, updateId: 'kiosk-1.1.0' }, deviceDeps);
    expect(r.plan.write).toMatchObject({ mode: 'full', reason: 'slot B has drifted from its image (1 difference)' });
    expect(fs.readFileSync(path.join(dev.root, 'slots', 'b', 'etc', 'debian_version'), 'utf8')).toBe('12.99-ferry\n');
  });
});
