import { execFileSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyImageToDir } from '../../src/device/extract/apply.js';
import { OciLayout } from '../../src/oci/layout.js';
import { snapshotTree } from '../device/extract/tree-snapshot.js';
import { buildFidelityRootfs, gnuTarDir } from '../helpers/layers.js';

// A three-layer image built by umoci itself: a full rootfs; a repack with deletions
// (umoci writes .wh. whiteouts), type changes and additions; then a raw GNU tar layer
// with an opaque directory marker. ferry's extraction must equal `umoci unpack`.
let tmp: string;
const umoci = (...args: string[]): void => void execFileSync('umoci', args, { cwd: tmp, stdio: ['ignore', 'ignore', 'inherit'] });

beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-umoci-'));
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

async function buildImage(): Promise<void> {
  umoci('init', '--layout', 'oci');
  umoci('new', '--image', 'oci:img');
  umoci('unpack', '--image', 'oci:img', 'b1');
  const r1 = path.join(tmp, 'b1', 'rootfs');
  await buildFidelityRootfs(r1);
  await fsp.mkdir(path.join(r1, 'opt/app/plugins'), { recursive: true });
  for (const f of ['a', 'b', 'c']) await fsp.writeFile(path.join(r1, 'opt/app/plugins', f), f);
  await fsp.mkdir(path.join(r1, 'var/cache/old'), { recursive: true });
  await fsp.writeFile(path.join(r1, 'var/cache/old/blob'), 'stale');
  await fsp.writeFile(path.join(r1, 'etc/motd'), 'v1');
  umoci('repack', '--image', 'oci:img', 'b1');

  umoci('unpack', '--image', 'oci:img', 'b2');
  const r2 = path.join(tmp, 'b2', 'rootfs');
  await fsp.rm(path.join(r2, 'var/cache/old'), { recursive: true });
  await fsp.rm(path.join(r2, 'etc/hostname'));
  await fsp.rm(path.join(r2, 'etc/motd'));
  await fsp.mkdir(path.join(r2, 'etc/motd')); // file -> directory
  await fsp.writeFile(path.join(r2, 'etc/motd/banner'), 'v2');
  await fsp.rm(path.join(r2, 'lib'));
  await fsp.mkdir(path.join(r2, 'lib')); // symlink -> directory
  await fsp.writeFile(path.join(r2, 'lib/real'), 'real');
  await fsp.writeFile(path.join(r2, 'usr/lib/libc.so.6'), Buffer.alloc(1000, 1)); // breaks the hardlink pair
  umoci('repack', '--image', 'oci:img', 'b2');

  const stage = path.join(tmp, 'stage');
  await fsp.mkdir(path.join(stage, 'opt/app/plugins'), { recursive: true });
  await fsp.writeFile(path.join(stage, 'opt/app/plugins/.wh..wh..opq'), '');
  await fsp.writeFile(path.join(stage, 'opt/app/plugins/d'), 'only d survives');
  await fsp.writeFile(path.join(tmp, 'layer3.tar'), gnuTarDir(stage));
  umoci('raw', 'add-layer', '--image', 'oci:img', 'layer3.tar');
}

describe('applyImageToDir against umoci unpack', () => {
  it('produces the same tree as umoci for an image with whiteouts, type changes and an opaque directory', async () => {
    await buildImage();
    umoci('unpack', '--image', 'oci:img', 'want');
    const root = path.join(tmp, 'got');
    await fsp.mkdir(root);
    const layout = await OciLayout.open(path.join(tmp, 'oci'));
    const image = await layout.resolveImage(await layout.findRef('img'), undefined, 'img');
    expect(image.manifest.layers).toHaveLength(3);
    await applyImageToDir({ layout, image, ref: 'img', root, progress: () => undefined });
    const want = snapshotTree(path.join(tmp, 'want', 'rootfs'));
    const got = snapshotTree(root);
    expect(Object.keys(got.nodes).sort()).toEqual(Object.keys(want.nodes).sort());
    expect(got).toEqual(want);
    // the semantics, spelled out
    expect(got.nodes['var/cache/old']).toBeUndefined();
    expect(got.nodes['etc/hostname']).toBeUndefined();
    expect(got.nodes['etc/motd']!.type).toBe('dir');
    expect(got.nodes['lib']!.type).toBe('dir');
    expect(Object.keys(got.nodes).filter((p) => p.startsWith('opt/app/plugins/'))).toEqual(['opt/app/plugins/d']);
    expect(got.nodes['usr/bin/ping']!.xattrs!['security.capability']).toBeDefined();
  });
});
