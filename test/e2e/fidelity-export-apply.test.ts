import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layerOpener } from '../../src/device/apply-image.js';
import { applyImageToDir } from '../../src/device/extract/apply.js';
import { exportImage } from '../../src/media/export.js';
import { CHUNK_INDEX_CAP, parseChunkIndex } from '../../src/oci/chunk-index.js';
import { OciLayout } from '../../src/oci/layout.js';
import { snapshotTree } from '../device/extract/tree-snapshot.js';
import { buildFidelityRootfs } from '../helpers/layers.js';

let tmp: string;
beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-exp-apply-'));
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

describe('export rootfs: then apply to a dir', () => {
  for (const compress of ['gzip', 'zstd'] as const) {
    it(`carries capabilities, SELinux labels, device nodes, owners above 262143 and hardlinks unchanged (${compress})`, async () => {
      const src = path.join(tmp, `rootfs-${compress}`);
      const root = path.join(tmp, `slot-${compress}`);
      await fsp.mkdir(src);
      await fsp.mkdir(root);
      await buildFidelityRootfs(src);
      const media = path.join(tmp, `stick-${compress}`);
      const res = await exportImage({ image: `rootfs:${src}`, target: 'kiosk', version: '1.0.0', mediaRoot: media, compress });
      const layout = await OciLayout.open(path.join(media, 'FERRY', 'oci'));
      const image = await layout.resolveImage(await layout.findRef(res.ref), undefined, res.ref);
      await applyImageToDir({ layout, image, ref: res.ref, root, progress: () => undefined });
      const want = snapshotTree(src);
      const got = snapshotTree(root);
      expect(got).toEqual(want);
      expect(got.nodes['usr/bin/ping']!.xattrs!['security.capability']).toMatch(/^0x0[12]0000/);
      expect(got.nodes['etc/labelled']!.xattrs).toMatchObject({ 'security.selinux': expect.any(String), 'user.binary': '0x00ff10fe80' });
      expect(got.nodes['dev/null']).toMatchObject({ type: 'char' });
      expect(got.nodes['home/big/file']).toMatchObject({ uid: 300000, gid: 300000 });
      expect(image.manifest.layers[0]!.mediaType).toMatch(new RegExp(`tar\\+${compress}$`));
      // the device's path: each layer read from the stick in chunks checked against the chunk
      // index and decompressed on the worker thread (apply-image.ts layerOpener)
      const chunks = parseChunkIndex(await layout.readJsonBlob(res.chunkIndex!, CHUNK_INDEX_CAP, 'chunk index'), 'chunk index');
      const open = layerOpener({ layout, image, chunks })!;
      let fed = 0;
      const root2 = path.join(tmp, `slot-${compress}-feed`);
      await fsp.mkdir(root2);
      await applyImageToDir({ layout, image, ref: res.ref, root: root2, progress: () => undefined, openLayer: async (d, what, onRead) => {
        const feed = await open(d, what, onRead);
        if (feed) fed++;
        return feed;
      } });
      expect(fed).toBe(image.manifest.layers.length);
      expect(snapshotTree(root2)).toEqual(want);
    });
  }
});
