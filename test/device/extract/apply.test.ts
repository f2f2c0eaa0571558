import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyImageToDir } from '../../../src/device/extract/apply.js';
import type { ProgressEvent } from '../../../src/progress.js';
import { compress, type RawEntry, tarArchive, writeTestLayout } from '../../helpers/layers.js';

let tmp: string;
let root: string;
beforeEach(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-apply-'));
  root = path.join(tmp, 'root');
  await fsp.mkdir(root);
});
afterEach(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

async function apply(layers: Parameters<typeof writeTestLayout>[1], opts: { signal?: AbortSignal; events?: ProgressEvent[] } = {}) {
  const { layout, image } = await writeTestLayout(path.join(tmp, 'oci'), layers);
  return applyImageToDir({ layout, image, ref: 'test-1.0.0', root, progress: (e) => opts.events?.push(e), signal: opts.signal });
}

const basic: RawEntry[] = [
  { name: './', type: '5', mode: 0o755 },
  { name: './etc/', type: '5', mode: 0o755 },
  { name: './etc/hostname', data: 'kiosk\n', mode: 0o644, uid: 0, gid: 0 },
  { name: './usr/bin/tool', data: 'binary', mode: 0o4755, uid: 0, gid: 0 },
  { name: './usr/bin/tool-alias', type: '1', linkname: './usr/bin/tool' },
  { name: './usr/lib64', type: '2', linkname: '/usr/lib' },
  { name: './home/kiosk/', type: '5', mode: 0o700, uid: 1000, gid: 1000 },
  { name: './home/kiosk/.profile', data: 'export A=1\n', mode: 0o600, uid: 1000, gid: 1000 },
  { name: './run/ctl', type: '6', mode: 0o600 },
];

function expectBasicTree(): void {
  expect(fs.readFileSync(path.join(root, 'etc/hostname'), 'utf8')).toBe('kiosk\n');
  const tool = fs.lstatSync(path.join(root, 'usr/bin/tool'));
  expect(tool.mode & 0o7777).toBe(0o4755);
  expect(fs.lstatSync(path.join(root, 'usr/bin/tool-alias')).ino).toBe(tool.ino);
  expect(fs.readlinkSync(path.join(root, 'usr/lib64'))).toBe('/usr/lib');
  const home = fs.lstatSync(path.join(root, 'home/kiosk'));
  expect([home.uid, home.gid, home.mode & 0o7777]).toEqual([1000, 1000, 0o700]);
  expect(fs.lstatSync(path.join(root, 'run/ctl')).isFIFO()).toBe(true);
}

describe('applyImageToDir', () => {
  for (const compression of ['gzip', 'zstd', 'none'] as const) {
    it(`extracts a ${compression} layer with modes, owners, hardlinks, symlinks and fifos`, async () => {
      const r = await apply([{ tar: tarArchive(basic), compression }]);
      expectBasicTree();
      expect(r.bytesWritten).toBe(tarArchive(basic).length);
    });
  }

  it('applies whiteouts and opaque directories to lower layers only, never to what the same layer adds', async () => {
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
      { name: 'c/', type: '5' },
      { name: 'c/now-a-dir', data: 'dir' },
      { name: 'd/.wh..wh..opq' },
      { name: 'd/new', data: 'new' },
      { name: 'f/new', data: 'f-new' },
      { name: '.wh.f' },
      { name: 'g', data: 'g is a file now' },
      { name: 'h/', type: '5' },
      { name: 'h/real', data: 'in a real dir' },
      { name: 'a/y-again', type: '1', linkname: 'a/y' }, // a hardlink to a lower layer's file
    ]);
    await apply([{ tar: lower }, { tar: upper, compression: 'zstd' }]);
    const ls = (d: string): string[] => fs.readdirSync(path.join(root, d)).sort();
    expect(ls('.')).toEqual(['a', 'c', 'd', 'f', 'g', 'h']);
    expect(ls('a')).toEqual(['y', 'y-again']);
    expect(fs.lstatSync(path.join(root, 'a/y-again')).ino).toBe(fs.lstatSync(path.join(root, 'a/y')).ino);
    expect(ls('c')).toEqual(['now-a-dir']);
    expect(ls('d')).toEqual(['new']);
    expect(ls('f')).toEqual(['new']);
    expect(fs.readFileSync(path.join(root, 'g'), 'utf8')).toBe('g is a file now');
    expect(fs.lstatSync(path.join(root, 'h')).isDirectory()).toBe(true);
    expect(ls('h')).toEqual(['real']);
    expect(ls('a')).toEqual(['y', 'y-again']); // h/real did not go through the old symlink h -> a
  });

  it('reports write progress in compressed bytes up to the payload total', async () => {
    const events: ProgressEvent[] = [];
    const r = await apply([{ tar: tarArchive(basic) }, { tar: tarArchive([{ name: 'more', data: 'm' }]) }], { events });
    const last = events.at(-1)!;
    expect(last.step).toBe('write');
    expect(last.bytesDone).toBe(last.bytesTotal);
    expect(r.bytesRead).toBe(last.bytesTotal);
    const { image } = await writeTestLayout(path.join(tmp, 'oci2'), [{ tar: tarArchive(basic) }, { tar: tarArchive([{ name: 'more', data: 'm' }]) }]);
    expect(last.bytesTotal).toBe(image.configDescriptor.size + image.manifest.layers.reduce((s, l) => s + l.size, 0));
    expect(events.map((e) => e.bytesDone)).toEqual([...events.map((e) => e.bytesDone)].sort((a, b) => a - b));
  });

  it('refuses a layer whose uncompressed content does not match its diff_id', async () => {
    const diffId = `sha256:${'0'.repeat(64)}`;
    await expect(apply([{ tar: tarArchive(basic), diffId }])).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
  });

  it('refuses a blob altered after its digest was recorded', async () => {
    const tar = tarArchive(basic);
    const gz = compress(tar, 'gzip');
    const tampered = Buffer.from(gz);
    tampered[tampered.length - 20] ^= 0xff;
    await expect(apply([{ tar, tamperedBlob: tampered }])).rejects.toMatchObject({ code: expect.stringMatching(/^(DIGEST_MISMATCH|CORRUPT_COMPRESSION)$/) });
    // the same damage with the digest of the damaged bytes: only the gzip CRC can catch it
    await expect(apply([{ tar, blob: tampered }])).rejects.toMatchObject({ code: 'CORRUPT_COMPRESSION' });
  });

  it('refuses a blob of the wrong size', async () => {
    const tar = tarArchive(basic);
    await expect(apply([{ tar, tamperedBlob: Buffer.concat([compress(tar, 'gzip'), Buffer.from('extra')]) }])).rejects.toMatchObject({ code: 'SIZE_MISMATCH' });
  });

  it('refuses corrupt gzip and corrupt zstd with CORRUPT_COMPRESSION', async () => {
    const tar = tarArchive(basic);
    await expect(apply([{ tar, blob: Buffer.from('definitely not gzip data at all') }])).rejects.toMatchObject({ code: 'CORRUPT_COMPRESSION' });
    await expect(apply([{ tar, compression: 'zstd', blob: Buffer.from('definitely not zstd data either') }])).rejects.toMatchObject({ code: 'CORRUPT_COMPRESSION' });
  });

  it('refuses a tar truncated inside an entry with CORRUPT_ARCHIVE', async () => {
    const full = tarArchive([{ name: 'big', data: Buffer.alloc(5000, 7) }, { name: 'after', data: 'a' }], { endMarker: false });
    const truncated = full.subarray(0, 512 + 2048);
    await expect(apply([{ tar: truncated }])).rejects.toMatchObject({ code: 'CORRUPT_ARCHIVE' });
    const midHeader = full.subarray(0, 512 + 5120 + 100);
    await expect(apply([{ tar: midHeader }])).rejects.toMatchObject({ code: 'CORRUPT_ARCHIVE' });
  });

  it('fails with NO_SPACE when the slot fills up, naming the layer', async () => {
    const small = path.join(tmp, 'small');
    await fsp.mkdir(small);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', small]);
    try {
      const { layout, image } = await writeTestLayout(path.join(tmp, 'oci-full'), [{ tar: tarArchive([{ name: 'big', data: Buffer.alloc(3 << 20, 1) }]) }]);
      await expect(applyImageToDir({ layout, image, ref: 'x', root: small, progress: () => undefined })).rejects.toMatchObject({ code: 'NO_SPACE', message: expect.stringContaining('layer 1/1') });
    } finally {
      execFileSync('umount', [small]);
    }
  });

  it('stops with CANCELLED when the signal is aborted, before or during the write', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(apply([{ tar: tarArchive(basic) }], { signal: ac.signal })).rejects.toMatchObject({ code: 'CANCELLED' });
    const big = tarArchive(Array.from({ length: 40 }, (_, i) => ({ name: `f${i}`, data: Buffer.alloc(1 << 20, i) })));
    const ac2 = new AbortController();
    const { layout, image } = await writeTestLayout(path.join(tmp, 'oci-big'), [{ tar: big, compression: 'none' }]);
    let events = 0;
    const p = applyImageToDir({ layout, image, ref: 'x', root, signal: ac2.signal, progress: () => ++events === 2 && ac2.abort() });
    await expect(p).rejects.toMatchObject({ code: 'CANCELLED' });
  });
});

describe('ensureGnuTar', () => {
  it('refuses a tar that is not GNU tar, saying what was found', async () => {
    const { ensureGnuTar } = await import('../../../src/device/extract/gnu-tar.js');
    const fake = path.join(os.tmpdir(), `ferry-fake-tar-${process.pid}`);
    await fsp.writeFile(fake, '#!/bin/sh\necho "tar (busybox) 1.36.1"\n', { mode: 0o755 });
    try {
      await expect(ensureGnuTar(fake)).rejects.toMatchObject({ code: 'SLOT_WRITE_FAILED', message: expect.stringContaining('busybox') });
      await expect(ensureGnuTar()).resolves.toBeUndefined();
    } finally {
      await fsp.rm(fake, { force: true });
    }
  });
});
