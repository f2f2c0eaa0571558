import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyImageToDir } from '../../src/device/extract/apply.js';
import { snapshotTree } from '../device/extract/tree-snapshot.js';
import { buildFidelityRootfs, gnuTarDir, writeTestLayout } from '../helpers/layers.js';

let tmp: string;
beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-fid-'));
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

describe('applyImageToDir fidelity with a GNU tar layer', () => {
  for (const compression of ['gzip', 'zstd'] as const) {
    it(`keeps capabilities, labels, devices, owners above 262143 and hardlinks (${compression})`, async () => {
      const src = path.join(tmp, `src-${compression}`);
      const root = path.join(tmp, `root-${compression}`);
      await fsp.mkdir(src);
      await fsp.mkdir(root);
      await buildFidelityRootfs(src);
      const { layout, image } = await writeTestLayout(path.join(tmp, `oci-${compression}`), [{ tar: gnuTarDir(src), compression }]);
      await applyImageToDir({ layout, image, ref: 'fid', root, progress: () => undefined });
      const want = snapshotTree(src);
      const got = snapshotTree(root);
      expect(got).toEqual(want);
      // the facts the brief names, asserted directly as well
      expect(got.nodes['usr/bin/ping']!.xattrs!['security.capability']).toBe(want.nodes['usr/bin/ping']!.xattrs!['security.capability']);
      expect(got.nodes['usr/bin/ping']!.xattrs!['security.capability']).toMatch(/^0x0[12]0000/);
      expect(got.nodes['dev/null']).toMatchObject({ type: 'char', rdev: want.nodes['dev/null']!.rdev });
      expect(got.nodes['home/big/file']).toMatchObject({ uid: 300000, gid: 300000 });
      expect(got.nodes['home/huge-id']).toMatchObject({ uid: 3_000_000_000, gid: 2_500_000_000 });
      expect(got.hardlinks).toEqual([['usr/lib/libc-hard.so', 'usr/lib/libc.so.6']]);
    });
  }
});
