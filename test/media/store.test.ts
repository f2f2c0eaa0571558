import { execFileSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFerryError } from '../../src/errors.js';
import { exportImage } from '../../src/media/export.js';
import { checkCapacity, FAT32_MAX_FILE, MSDOS_SUPER_MAGIC, openMediaStore } from '../../src/media/store.js';
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
    expect((await fsp.readdir(store.paths.oci)).sort()).toEqual(['blobs', 'oci-layout']);
  });
});
