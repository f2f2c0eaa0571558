import { execFileSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFerryError } from '../../src/errors.js';
import { exportImage } from '../../src/media/export.js';
import { checkCapacity, FAT32_MAX_FILE, MSDOS_SUPER_MAGIC, mountTypeOf, openMediaStore } from '../../src/media/store.js';
import { buildSamplesInTemp, type SampleImages } from '../helpers/samples.js';
import { mediaState, tempDir } from './fixtures.js';

let s: SampleImages & { dir: string };
let dir: string;
let mounted: string | undefined;

beforeAll(async () => {
  s = await buildSamplesInTemp();
  dir = await tempDir('ferry-store-');
});
afterAll(async () => {
  if (mounted) execFileSync('umount', [mounted]);
  await fsp.rm(s.dir, { recursive: true, force: true });
  await fsp.rm(dir, { recursive: true, force: true });
});

function codeOf(f: () => void): string | undefined {
  try {
    f();
  } catch (e) {
    return isFerryError(e) ? e.code : 'other';
  }
  return undefined;
}

describe('checkCapacity', () => {
  const roomy = { bavail: 1e9, bsize: 4096 };
  it('refuses a blob of 4 GiB on FAT32, naming the blob and the limit', () => {
    try {
      checkCapacity({ type: MSDOS_SUPER_MAGIC, ...roomy }, [{ what: 'blob sha256:big', size: FAT32_MAX_FILE + 1 }], '/media/stick');
      expect.unreachable();
    } catch (e) {
      expect(isFerryError(e, 'FILE_TOO_LARGE_FOR_FILESYSTEM')).toBe(true);
      expect((e as Error).message).toContain('blob sha256:big');
      expect((e as Error).message).toContain(String(FAT32_MAX_FILE));
    }
  });

  it('accepts a blob of 4 GiB − 1 on FAT32 and any size elsewhere', () => {
    expect(codeOf(() => checkCapacity({ type: MSDOS_SUPER_MAGIC, ...roomy }, [{ what: 'b', size: FAT32_MAX_FILE }], 'x'))).toBeUndefined();
    expect(codeOf(() => checkCapacity({ type: 0xef53, ...roomy }, [{ what: 'b', size: 10 * 1024 ** 3 }], 'x'))).toBeUndefined();
  });

  it('refuses blobs that do not fit in the free space with NO_SPACE', () => {
    expect(codeOf(() => checkCapacity({ type: 0xef53, bavail: 10, bsize: 4096 }, [{ what: 'b', size: 40_000 }, { what: 'c', size: 4096 }], 'x'))).toBe('NO_SPACE');
  });
});

describe('FAT seen through FUSE, and file systems that do not report their size', () => {
  const mountinfo = [
    '22 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
    '40 22 0:39 / /media/usb\\040stick rw,nosuid,nodev - fuse.fusefat fusefat rw,user_id=0,group_id=0',
    '41 22 0:40 / /media/usb rw - vfat /dev/sdb1 rw',
    '42 41 0:41 / /media/usb rw - tmpfs tmpfs rw',
  ].join('\n');

  it('names the type of the innermost, topmost mount holding a path (octal escapes decoded)', () => {
    expect(mountTypeOf(mountinfo, '/media/usb stick/FERRY/oci')).toBe('fuse.fusefat');
    expect(mountTypeOf(mountinfo, '/media/usb/FERRY')).toBe('tmpfs'); // mounted over the vfat one
    expect(mountTypeOf(mountinfo, '/media/usbx')).toBe('ext4'); // a prefix of the name is not a parent
    expect(mountTypeOf('', '/x')).toBeUndefined();
  });

  it('treats a fuse.fusefat mount as FAT32 and skips the free-space estimate when the size is not reported', () => {
    const fuse = { type: 0x65735546, bavail: 0, bsize: 1024, blocks: 0, mountType: 'fuse.fusefat' };
    expect(codeOf(() => checkCapacity(fuse, [{ what: 'b', size: FAT32_MAX_FILE + 1 }], 'x'))).toBe('FILE_TOO_LARGE_FOR_FILESYSTEM');
    expect(codeOf(() => checkCapacity(fuse, [{ what: 'b', size: 1 << 20 }], 'x'))).toBeUndefined();
    expect(codeOf(() => checkCapacity({ ...fuse, blocks: 100 }, [{ what: 'b', size: 1 << 20 }], 'x'))).toBe('NO_SPACE');
  });
});

describe('media store', () => {
  it('refuses an export that does not fit on a small file system before writing any blob', async () => {
    const mnt = path.join(dir, 'small');
    await fsp.mkdir(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', mnt]);
    mounted = mnt;
    await expect(exportImage({ image: s.v1, target: 'k', version: '1.0.0', mediaRoot: mnt })).rejects.toSatisfy((e: unknown) => isFerryError(e, 'NO_SPACE') && e.exitCode === 5);
    expect(await mediaState(mnt)).toEqual({ blobs: [], refs: [] });
  });

  it('removes temp files left by a killed run when it is opened again', async () => {
    const media = path.join(dir, 'stale');
    const store = await openMediaStore(media);
    const stale = path.join(store.paths.oci, 'blobs', 'sha256', '.ferry-tmp-blob.deadbeef');
    await fsp.writeFile(stale, 'half a blob');
    await fsp.writeFile(path.join(store.paths.oci, '.ferry-tmp-index.json.cafe'), '{');
    await openMediaStore(media);
    expect(await fsp.readdir(path.join(store.paths.oci, 'blobs', 'sha256'))).toEqual([]);
    expect((await fsp.readdir(store.paths.oci)).sort()).toEqual(['blobs', 'index.json', 'oci-layout']);
  });
});
