import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stickInfo } from '../../src/device/index.js';

let dir: string | undefined;
afterEach(async () => {
  if (dir) await fsp.rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('stickInfo', () => {
  it('names the label, device, file system, size, free space and read-only flag of the mount holding the stick', async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-stick-'));
    const stick = path.join(dir, 'mnt', 'FERRY STICK');
    await fsp.mkdir(stick, { recursive: true });
    const dev = path.join(dir, 'sdb1');
    await fsp.writeFile(dev, '');
    await fsp.mkdir(path.join(dir, 'by-label'));
    await fsp.symlink(dev, path.join(dir, 'by-label', 'FERRY\\x20STICK'));
    const point = (await fsp.realpath(stick)).replace(/ /g, '\\040');
    const mountinfo = [
      `22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw`,
      `90 22 8:17 / ${point} ro,nosuid,nodev,noexec shared:40 - vfat ${dev} ro,fmask=0022`,
    ].join('\n');
    await fsp.writeFile(path.join(dir, 'mountinfo'), mountinfo + '\n');
    const info = await stickInfo(stick, { mountinfo: path.join(dir, 'mountinfo'), byLabel: path.join(dir, 'by-label') });
    expect(info).toMatchObject({ root: stick, label: 'FERRY STICK', device: dev, fsType: 'vfat', readOnly: true });
    expect(info.sizeBytes).toBeGreaterThan(0);
    expect(info.freeBytes).toBeLessThanOrEqual(info.sizeBytes!);
  });

  it('says nothing it does not know for a folder that is no mount of its own', async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-stick-'));
    const info = await stickInfo(dir, { mountinfo: path.join(dir, 'missing'), byLabel: path.join(dir, 'missing') });
    expect(info.device).toBeUndefined();
    expect(info.label).toBeUndefined();
    expect(info.sizeBytes).toBeGreaterThan(0);
  });
});
