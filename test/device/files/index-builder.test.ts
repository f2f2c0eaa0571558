import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compareTree } from '../../../src/device/drift.js';
import { entrySource } from '../../../src/device/files/index-reader.js';
import { applyImageToDir } from '../../../src/device/extract/apply.js';
import type { FileIndex } from '../../../src/device/files/file-index.js';
import { compileIgnores } from '../../../src/device/files/glob.js';
import { FileIndexBuilder } from '../../../src/device/files/index-builder.js';
import { buildFidelityRootfs, gnuTarDir, type RawEntry, tarArchive, writeTestLayout } from '../../helpers/layers.js';

let tmp: string;
let root: string;
beforeEach(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-files-index-'));
  root = path.join(tmp, 'root');
  await fsp.mkdir(root);
});
afterEach(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

async function apply(layers: Parameters<typeof writeTestLayout>[1]): Promise<FileIndex> {
  const { layout, image } = await writeTestLayout(path.join(tmp, 'oci'), layers);
  const r = await applyImageToDir({ layout, image, ref: 'test-1.0.0', root, progress: () => undefined });
  expect(r.fileIndex?.image).toBe(image.manifestDescriptor.digest);
  return r.fileIndex as FileIndex; // a full write records the index it built
}

const none = compileIgnores([]);
const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

describe('the file index recorded while a slot is written', () => {
  it('describes the final tree of layered whiteouts, opaque dirs, replacements and hardlinks exactly as extracted', async () => {
    const lower = tarArchive([
      { name: 'a/x', data: 'x' },
      { name: 'a/y', data: 'y' },
      { name: 'b/z', data: 'z' },
      { name: 'c', data: 'was a file' },
      { name: 'd/k', data: 'k' },
      { name: 'd/sub/deep', data: 'deep' },
      { name: 'f/old', data: 'old' },
      { name: 'g/', type: '5' },
      { name: 'g/inside', data: 'g' },
      { name: 'h', type: '2', linkname: 'a' },
    ]);
    const upper = tarArchive([
      { name: 'a/.wh.x' },
      { name: '.wh.b' },
      { name: 'c/', type: '5', mode: 0o750 },
      { name: 'c/now-a-dir', data: 'dir' },
      { name: 'd/.wh..wh..opq' },
      { name: 'd/new', data: 'new' },
      { name: 'f/new', data: 'f-new' },
      { name: '.wh.f' },
      { name: 'g', data: 'g is a file now', mode: 0o600 },
      { name: 'h/', type: '5' },
      { name: 'h/real', data: 'in a real dir' },
      { name: 'a/y-again', type: '1', linkname: 'a/y' },
    ]);
    const index = await apply([{ tar: lower }, { tar: upper, compression: 'zstd' }]);
    expect(index.entries.map((e) => e.path)).toEqual(['a/y', 'a/y-again', 'c', 'c/now-a-dir', 'd/new', 'f/new', 'g', 'h', 'h/real']);
    const by = new Map(index.entries.map((e) => [e.path, e]));
    expect(by.get('a/y-again')).toMatchObject({ type: 'file', sha256: sha('y'), size: 1 });
    expect(by.get('g')).toMatchObject({ type: 'file', mode: 0o600, sha256: sha('g is a file now') });
    expect(by.get('c')).toMatchObject({ type: 'dir', mode: 0o750 });
    expect(by.get('h')?.type).toBe('dir');
    const drift = await compareTree(root, entrySource(index.entries), none, none, false);
    expect(drift.items).toEqual([]);
    expect(drift.clean).toBe(true);
  });

  it('keeps xattrs (binary capabilities, SELinux labels), devices, fifos, big owners and long and non-ASCII names so the tree compares clean', async () => {
    const src = path.join(tmp, 'src');
    await fsp.mkdir(src);
    await buildFidelityRootfs(src);
    const index = await apply([{ tar: gnuTarDir(src) }]);
    const by = new Map(index.entries.map((e) => [Buffer.from(e.path, 'latin1').toString('utf8'), e]));
    expect(by.get('usr/bin/ping')?.xattrs).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(by.get('etc/labelled')?.xattrs).toMatch(/^sha256:/);
    expect(by.get('dev/loop7')).toMatchObject({ type: 'block', rdev: '7:7' });
    expect(by.get('run/initctl')?.type).toBe('fifo');
    expect(by.get('home/huge-id')).toMatchObject({ uid: 3_000_000_000, gid: 2_500_000_000 });
    expect(by.get('usr/lib/libc-hard.so')?.sha256).toBe(createHash('sha256').update(Buffer.alloc(70_000, 0xab)).digest('hex'));
    expect(by.get('etc/ünïcødé')?.type).toBe('file');
    const drift = await compareTree(root, entrySource(index.entries), none, none, false);
    expect(drift.items).toEqual([]);
    expect(drift.filesHashed).toBe(index.entries.filter((e) => e.type === 'file').length);
  });

  it('gives up (no index, the write goes on) past its entry cap', () => {
    const b = new FileIndexBuilder(`sha256:${'1'.repeat(64)}`, 2);
    b.beginLayer();
    const entry = (p: string): RawEntry => ({ name: p });
    for (const p of ['a', 'b', 'c'].map(entry)) {
      b.entry({ path: p.name, kind: 'file', link: '', size: 0, uid: 0, gid: 0, mode: 0o644, mtime: '0', devmajor: 0, devminor: 0, xattrs: [] });
      b.endEntry();
    }
    b.endLayer();
    expect(b.overflowed).toBe(true);
    expect(b.finish()).toBeUndefined();
  });

  it('is recorded for a whole image that GNU tar extracts (the tree on disk and the index agree file for file)', async () => {
    const src = path.join(tmp, 'src2');
    await fsp.mkdir(path.join(src, 'etc'), { recursive: true });
    await fsp.writeFile(path.join(src, 'etc', 'os-release'), 'ID=test\n');
    const index = await apply([{ tar: gnuTarDir(src) }, { tar: tarArchive([{ name: 'etc/.wh.os-release' }, { name: 'etc/added', data: 'a' }]) }]);
    expect(index.entries.map((e) => e.path)).toEqual(['', 'etc', 'etc/added']);
    expect(fs.readdirSync(path.join(root, 'etc'))).toEqual(['added']);
  });
});
