import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EntryGate, TarSanitizer, type TarEntry } from '../../../src/device/extract/tar-sanitizer.js';
import { buildFidelityRootfs, gnuTarDir, tarArchive, tarEntryBytes } from '../../helpers/layers.js';
import { fixChecksum, gnuTarExtract, gnuTarList, parseListing, walkTar } from './tar-walk.js';
import { snapshotTree } from './tree-snapshot.js';

/** Every path's mtime in nanoseconds (symlinks not followed). */
function mtimes(root: string): Record<string, bigint> {
  const out: Record<string, bigint> = {};
  for (const rel of fs.readdirSync(root, { recursive: true, encoding: 'utf8' })) out[rel] = fs.lstatSync(path.join(root, rel), { bigint: true }).mtimeNs;
  return out;
}

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
  it('re-encodes a GNU tar pax archive canonically: same tree, same times, whatever the chunking', async () => {
    const src = path.join(tmp, 'rootfs');
    await fsp.mkdir(src);
    await buildFidelityRootfs(src);
    const tar = gnuTarDir(src);
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 3000;
    const outs: Buffer[] = [];
    for (const chunking of [() => 1 << 20, (i: number) => (i < 20_000 ? 1 : 4096), () => 511, () => 513, random]) outs.push(await sanitize(tar, chunking, passAll));
    for (const o of outs) expect(o.equals(outs[0]!)).toBe(true);
    const out = outs[0]!;
    // only ustar entries and 'x' headers with the keys ferry understands reach tar
    for (const { header, pax } of walkTar(out)) {
      expect('0123456x').toContain(header.typeflag);
      expect(header.format).toBe('ustar');
      for (const k of pax?.keys() ?? []) expect(k).toMatch(/^(path|linkpath|size|uid|gid|mtime|SCHILY\.xattr\..+)$/);
    }
    const a = path.join(tmp, 'from-original');
    const b = path.join(tmp, 'from-canonical');
    await fsp.mkdir(a);
    await fsp.mkdir(b);
    gnuTarExtract(tar, a);
    gnuTarExtract(out, b);
    expect(snapshotTree(b)).toEqual(snapshotTree(a));
    expect(mtimes(b)).toEqual(mtimes(a));
    expect(parseListing(gnuTarList(out)!)).toEqual(parseListing(gnuTarList(tar)!));
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

  it('drops global headers, GNU long names and unknown pax keys; keeps binary xattrs, big ids, sub-second times, devices', async () => {
    const cap = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0x0a, 0x3d, 0x00, 0xff]);
    const globalHeader = (records: string): Buffer => {
      const g = tarEntryBytes({ name: 'pax_global_header', type: 'x', data: records });
      g[156] = 'g'.charCodeAt(0);
      return fixChecksum(g);
    };
    const global = globalHeader('15 comment=abc\n');
    // GNU tar would apply a global path to every later entry: refused, not dropped
    await expect(sanitize(Buffer.concat([globalHeader('16 path=../../x\n'), tarArchive([{ name: 'a' }])]), () => 4096, passAll)).rejects.toMatchObject({ code: 'CORRUPT_ARCHIVE' });
    const longName = `long/${'n'.repeat(150)}`;
    const longLink = `/usr/${'t'.repeat(300)}`;
    const tar = Buffer.concat([
      global,
      tarArchive(
        [
          { name: 'short', data: 'x', pax: { comment: 'hi', 'LIBARCHIVE.xattr.user.x': 'dropped', 'SCHILY.xattr.security.capability': cap, uid: '3000000000', gid: '2500000000', mtime: '1700000000.123456789', atime: '5', uname: 'root' } },
          { name: 'x', data: 'gnu', gnuLongName: longName },
          { name: 's', type: '2', linkname: 'x', pax: { linkpath: longLink } },
          { name: 'dev/null', type: '3', devmajor: 4095, devminor: 1048575 },
          { name: 'olddir/', type: '0', mode: 0o1777 },
        ],
      ),
    ]);
    const out = await sanitize(tar, () => 700, passAll);
    const walked = walkTar(out);
    expect(walked.map((w) => w.header.typeflag).join('')).toBe('x0x0x235');
    expect([...walked[0]!.pax!.keys()]).toEqual(['uid', 'gid', 'mtime', 'SCHILY.xattr.security.capability']);
    expect(Buffer.from(walked[0]!.pax!.get('SCHILY.xattr.security.capability')!, 'latin1')).toEqual(cap);
    expect([...walked[2]!.pax!]).toEqual([['path', longName]]);
    expect([...walked[4]!.pax!]).toEqual([['linkpath', longLink]]);
    expect(walked[6]!.header).toMatchObject({ name: 'dev/null', devmajor: 4095, devminor: 1048575 });
    expect(parseListing(gnuTarList(out)!).map((e) => [e.type, e.name, e.link, e.uid, e.gid, e.size, e.mode.toString(8), e.mtime])).toEqual([
      ['-', 'short', '', 3000000000, 2500000000, '1', '644', '2023-11-14 22:13:20.123456789'],
      ['-', longName, '', 0, 0, '3', '644', '2023-11-14 22:13:20'],
      ['l', 's', longLink, 0, 0, '0', '644', '2023-11-14 22:13:20'],
      ['c', 'dev/null', '', 0, 0, '4095,1048575', '644', '2023-11-14 22:13:20'],
      ['d', 'olddir', '', 0, 0, '0', '1777', '2023-11-14 22:13:20'],
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
