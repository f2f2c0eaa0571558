import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findMediaRoots, mediaRootFor } from '../../tui/media-scan.js';

let root: string;
beforeAll(async () => {
  root = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-tui-scan-'));
  for (const d of ['run/media/tech/STICK/FERRY/updates', 'media/OTHER/photos', 'media/FERRY2/FERRY', 'mnt/usb/FERRY', 'mnt/.hidden/FERRY', 'mnt/plain']) {
    await fsp.mkdir(path.join(root, d), { recursive: true });
  }
  await fsp.writeFile(path.join(root, 'mnt/file'), 'x');
  await fsp.writeFile(path.join(root, 'media/OTHER/FERRY'), 'a file, not a folder');
});
afterAll(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});

describe('findMediaRoots', () => {
  it('finds every mounted stick with a FERRY folder and ignores the rest', async () => {
    expect(await findMediaRoots(root)).toEqual([path.join(root, 'media/FERRY2'), path.join(root, 'mnt/usb'), path.join(root, 'run/media/tech/STICK')]);
  });
  it('returns nothing when no base folder exists', async () => {
    expect(await findMediaRoots(path.join(root, 'nowhere'))).toEqual([]);
  });
});

describe('mediaRootFor', () => {
  it('accepts the stick root or its FERRY folder', async () => {
    expect(await mediaRootFor(path.join(root, 'mnt/usb'))).toBe(path.join(root, 'mnt/usb'));
    expect(await mediaRootFor(path.join(root, 'mnt/usb/FERRY'))).toBe(path.join(root, 'mnt/usb'));
  });
});
