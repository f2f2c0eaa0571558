import { describe, expect, it } from 'vitest';
import { encodeEntry } from '../../../src/device/extract/tar-encode.js';
import type { TarEntry } from '../../../src/device/extract/tar-sanitizer.js';
import { gnuTarList, parseListing, walkTar } from './tar-walk.js';

const base: TarEntry = { path: 'f', kind: 'file', link: '', size: 0, uid: 0, gid: 0, mode: 0o644, mtime: '1700000000', devmajor: 0, devminor: 0, xattrs: [] };

/** An archive of encoded entries (data of each file: its size in 'd' bytes, padded). */
function archive(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    parts.push(encodeEntry(e));
    if (e.kind === 'file' && e.size > 0) parts.push(Buffer.alloc(Math.ceil(e.size / 512) * 512, 'd'));
  }
  return Buffer.concat([...parts, Buffer.alloc(1024)]);
}

describe('encodeEntry', () => {
  it('writes names at every ustar boundary so GNU tar reads them back exactly', () => {
    const names = [
      'n'.repeat(100), // fills the name field, no NUL
      `${'p'.repeat(155)}/${'n'.repeat(100)}`, // fills prefix and name
      `${'p'.repeat(156)}/n`, // prefix one too long: pax
      `d/${'n'.repeat(101)}`, // last component over 100: pax
      'x'.repeat(300), // no slash at all: pax
      `a/${'b'.repeat(60)}/${'c'.repeat(60)}`, // 124 bytes, splits
      'caf\xe9/\xff\xfe', // bytes that are not UTF-8
    ];
    const entries = names.map((path) => ({ ...base, path }));
    const tar = archive(entries);
    expect(parseListing(gnuTarList(tar)!).map((l) => l.name)).toEqual(names);
    // pax only where ustar cannot say it
    expect(walkTar(tar).map((w) => w.header.typeflag).join('')).toBe('00x0x0x000');
  });

  it('keeps big numbers, sub-second and negative times, devices, modes and long links', () => {
    const entries: TarEntry[] = [
      { ...base, path: 'big', size: 0o77777777777 + 1, uid: 2097152, gid: 4294967295, mtime: '1700000000.000000001', mode: 0o7755 },
      { ...base, path: 'old', mtime: '-86400' },
      { ...base, path: 'dev', kind: 'block', devmajor: 259, devminor: 1048575, mode: 0o660 },
      { ...base, path: 'ln', kind: 'symlink', link: `/${'t'.repeat(200)}` },
      { ...base, path: 'hl', kind: 'hardlink', link: 'old' },
      { ...base, path: '', kind: 'dir', mode: 0o755 },
    ];
    const headers = walkTar(encodeEntry(entries[0]!));
    expect([...headers[0]!.pax!]).toEqual([
      ['size', String(0o77777777777 + 1)],
      ['uid', '2097152'],
      ['gid', '4294967295'],
      ['mtime', '1700000000.000000001'],
    ]);
    expect(headers[1]!.header).toMatchObject({ name: 'big', size: 0, mode: 0o7755, mtime: 1700000000 });
    // listing past the 8 GiB file needs its data; list the rest on its own
    const rest = parseListing(gnuTarList(archive(entries.slice(1)))!);
    expect(rest.map((l) => [l.type, l.name, l.link, l.size, l.mode.toString(8), l.mtime])).toEqual([
      ['-', 'old', '', '0', '644', '1969-12-31 00:00:00'],
      ['b', 'dev', '', '259,1048575', '660', '2023-11-14 22:13:20'],
      ['l', 'ln', `/${'t'.repeat(200)}`, '0', '644', '2023-11-14 22:13:20'],
      ['h', 'hl', 'old', '0', '644', '2023-11-14 22:13:20'],
      ['d', '', '', '0', '755', '2023-11-14 22:13:20'],
    ]);
  });
});
