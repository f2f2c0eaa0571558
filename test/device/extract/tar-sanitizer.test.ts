import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EntryGate, TarSanitizer, type TarEntry } from '../../../src/device/extract/tar-sanitizer.js';
import { buildFidelityRootfs, gnuTarDir, tarArchive } from '../../helpers/layers.js';

let tmp: string;
beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-sanitize-'));
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

async function sanitize(tar: Buffer, chunk: (i: number) => number, gate: EntryGate): Promise<Buffer> {
  const out: Buffer[] = [];
  const s = new TarSanitizer('layer', gate, { write: async (c) => void out.push(...c.map((b) => Buffer.from(b))) });
  for (let off = 0, i = 0; off < tar.length; i++) {
    const n = Math.max(1, chunk(i));
    await s.push(tar.subarray(off, off + n));
    off += n;
  }
  await s.finish();
  return Buffer.concat(out);
}

const passAll: EntryGate = { admit: () => 'pass' };

describe('TarSanitizer', () => {
  it('passes a GNU tar pax archive through byte for byte, whatever the chunking', async () => {
    const src = path.join(tmp, 'rootfs');
    await fsp.mkdir(src);
    await buildFidelityRootfs(src);
    const tar = gnuTarDir(src);
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 3000;
    for (const chunking of [() => 1 << 20, (i: number) => (i < 20_000 ? 1 : 4096), () => 511, () => 513, random]) {
      const out = await sanitize(tar, chunking, passAll);
      // everything up to GNU tar's end-of-archive blocks is identical; ferry ends with exactly two zero blocks
      expect(out.subarray(0, out.length - 1024)).toEqual(tar.subarray(0, out.length - 1024));
      expect(out.subarray(out.length - 1024).every((b) => b === 0)).toBe(true);
      expect(tar.subarray(out.length - 1024).every((b) => b === 0)).toBe(true);
    }
  });

  it('hands the gate pax-resolved entries (long names, big uids, link targets)', async () => {
    const seen: TarEntry[] = [];
    const long = `${'d'.repeat(120)}/${'f'.repeat(130)}`;
    const tar = tarArchive([
      { name: 'short', data: 'x', pax: { path: long, uid: '300000', gid: '400000' } },
      { name: 'h', type: '1', linkname: 'x', gnuLongName: 'gnu/long/name', pax: { linkpath: './short' } },
      { name: './dir/', type: '0' },
      { name: 's', type: '2', linkname: '/abs/target' },
    ]);
    await sanitize(tar, () => 100, { admit: (e) => (seen.push(e), 'pass') });
    expect(seen.map((e) => [e.path, e.kind, e.link, e.uid, e.gid])).toEqual([
      [long, 'file', '', 300000, 400000],
      ['gnu/long/name', 'hardlink', 'short', 0, 0],
      ['dir', 'dir', '', 0, 0],
      ['s', 'symlink', '/abs/target', 0, 0],
    ]);
  });

  it('drops what the gate drops, extended headers and data included', async () => {
    const keep = tarArchive([{ name: 'keep', data: 'k'.repeat(700) }], { endMarker: false });
    const tar = tarArchive([{ name: '.wh.gone', data: 'zzz', pax: { comment: 'hi' } }, { name: 'keep', data: 'k'.repeat(700) }]);
    const out = await sanitize(tar, () => 64, { admit: (e) => (e.path.startsWith('.wh.') ? 'drop' : 'pass') });
    expect(out).toEqual(Buffer.concat([keep, Buffer.alloc(1024)]));
  });

  it('refuses an archive that ends after an extended header or inside data', async () => {
    const tar = tarArchive([{ name: 'a', data: 'a'.repeat(2000), pax: { comment: 'c' } }], { endMarker: false });
    await expect(sanitize(tar.subarray(0, 1024), () => 4096, passAll)).rejects.toMatchObject({ code: 'CORRUPT_ARCHIVE' });
    await expect(sanitize(tar.subarray(0, 1536 + 100), () => 4096, passAll)).rejects.toMatchObject({ code: 'CORRUPT_ARCHIVE' });
    const headerThenEnd = Buffer.concat([tar.subarray(0, 1024), Buffer.alloc(1024)]);
    await expect(sanitize(headerThenEnd, () => 4096, passAll)).rejects.toMatchObject({ code: 'CORRUPT_ARCHIVE' });
  });
});
