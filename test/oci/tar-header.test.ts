import { describe, expect, it } from 'vitest';
import { checksumOk, parseHeader, parseNumber, parsePaxRecords, paxNumber } from '../../src/oci/tar-header.js';
import { tarEntryBytes } from '../helpers/layers.js';

describe('parseNumber', () => {
  it('reads octal fields with NUL or space terminators and leading spaces', () => {
    expect(parseNumber(Buffer.from('0000644\0'))).toBe(0o644);
    expect(parseNumber(Buffer.from('  1750 \0'))).toBe(0o1750);
    expect(parseNumber(Buffer.from('\0\0\0\0\0\0\0\0'))).toBe(0);
  });

  it('reads GNU base-256 fields (uids above the octal limit, sizes above 8 GiB)', () => {
    const f = Buffer.alloc(8);
    f[0] = 0x80;
    f.writeUInt32BE(3_000_000_000, 4);
    expect(parseNumber(f)).toBe(3_000_000_000);
    const size = Buffer.alloc(12);
    size[0] = 0x80;
    size.writeUIntBE(20 * 2 ** 30, 6, 6);
    expect(parseNumber(size)).toBe(20 * 2 ** 30);
  });

  it('refuses negative base-256, junk digits and unsafe integers', () => {
    expect(parseNumber(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))).toBeUndefined();
    expect(parseNumber(Buffer.from('00009x4\0'))).toBeUndefined();
    expect(parseNumber(Buffer.from('0000 644'))).toBeUndefined();
    expect(parseNumber(Buffer.from([0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))).toBeUndefined();
  });
});

describe('parsePaxRecords', () => {
  it('keeps binary values byte for byte (security.capability is not UTF-8)', () => {
    const cap = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0xff, 0xfe, 0x0a, 0x3d]);
    const body = Buffer.concat([Buffer.from(' SCHILY.xattr.security.capability='), cap, Buffer.from('\n')]);
    const rec = Buffer.concat([Buffer.from(String(body.length + 2)), body]);
    const m = parsePaxRecords(Buffer.concat([rec, Buffer.from('11 uid=300\n')]), 'layer');
    expect(Buffer.from(m.get('SCHILY.xattr.security.capability')!, 'latin1')).toEqual(cap);
    expect(paxNumber(m.get('uid')!, 'uid', 'layer')).toBe(300);
  });

  it('refuses records whose length lies, or that lack "=" or a newline', () => {
    for (const bad of ['99 path=a\n', '9 path=ab', '7 path\n', '08 p=abc\n', 'x path=a\n']) {
      expect(() => parsePaxRecords(Buffer.from(bad), 'layer')).toThrowError(expect.objectContaining({ code: 'CORRUPT_ARCHIVE' }));
    }
    expect(() => paxNumber('-1', 'uid', 'layer')).toThrowError(expect.objectContaining({ code: 'CORRUPT_ARCHIVE' }));
  });
});

describe('parsePaxRecords is strictly narrower than GNU tar decode_record', () => {
  const bad: Array<[string, string]> = [
    ['two blanks after the length', '14  path=../x\n'],
    ['a tab after the length', '13\tpath=../x\n'],
    ['a blank and a tab after the length', '14 \tpath=../x\n'],
    ['a blank before the length', ' 13 path=../x\n'],
    ['a length with a leading zero', '013 path=../x\n'],
    ['a length with a plus sign', '+13 path=../x\n'],
    ['a blank inside the key', '14 path =../x\n'],
    ['a NUL inside the key', '14 pa\0th=../x\n'],
    ['a byte above 0x7e in the key', '14 p\xe4th=../x\n'],
    ['an empty key', '9 =../x\n'],
    ['a repeated key', '13 path=safe\n15 path=../../x\n'],
    ['records after a NUL', '13 path=safe\n\x0015 path=../../x\n'],
  ];
  for (const [what, text] of bad) {
    it(`refuses ${what}`, () => {
      expect(() => parsePaxRecords(Buffer.from(text, 'latin1'), 'layer')).toThrowError(expect.objectContaining({ code: 'CORRUPT_ARCHIVE' }));
    });
  }

  it('still reads what GNU tar writes (trailing NUL padding, xattr keys with dots and percent escapes)', () => {
    const m = parsePaxRecords(Buffer.from('30 mtime=1700000000.123456789\n37 SCHILY.xattr.user.a%3Db=v=with=eq\n\0\0\0', 'latin1'), 'layer');
    expect([...m]).toEqual([
      ['mtime', '1700000000.123456789'],
      ['SCHILY.xattr.user.a%3Db', 'v=with=eq'],
    ]);
  });
});

describe('parseHeader', () => {
  it('joins the ustar prefix and name and verifies the checksum', () => {
    const h = tarEntryBytes({ name: 'usr/bin/tool', data: 'x', mode: 0o4755, uid: 7, gid: 9 }).subarray(0, 512);
    expect(checksumOk(h)).toBe(true);
    const prefixed = Buffer.from(h);
    prefixed.write('very/long/prefix\0', 345, 'latin1');
    expect(checksumOk(prefixed)).toBe(false);
    expect(() => parseHeader(prefixed, 'layer')).toThrowError(expect.objectContaining({ code: 'CORRUPT_ARCHIVE' }));
    expect(parseHeader(h, 'layer')).toMatchObject({ name: 'usr/bin/tool', mode: 0o4755, uid: 7, gid: 9, size: 1, typeflag: '0', format: 'ustar' });
  });
});
