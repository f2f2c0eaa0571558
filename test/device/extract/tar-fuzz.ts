/**
 * A seeded generator of hostile tar archives for the differential test against GNU
 * tar: small archives (one to three entries) whose headers are built field by field
 * and then bent the ways tar readers disagree about (pax spacing and lengths, repeated
 * and stacked extended headers, GNU long names and links, base-256 and malformed
 * numbers, odd magics and versions, the prefix field, NULs, size tricks, checksums).
 * Every case is a pure function of (seed, index), so a failure replays exactly.
 */
import { BLOCK } from '../../../src/oci/tar-header.js';

/** mulberry32: small, fast, good enough to pick mutations. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** One header's fields; a string is written as latin1, a Buffer verbatim (both truncated to the field). */
interface Fields {
  name: string | Buffer;
  mode: string | Buffer;
  uid: string | Buffer;
  gid: string | Buffer;
  size: string | Buffer;
  mtime: string | Buffer;
  typeflag: string;
  linkname: string | Buffer;
  magic: string;
  devmajor: string | Buffer;
  devminor: string | Buffer;
  prefix: string | Buffer;
  checksum: 'ok' | 'signed' | 'bad';
}

const oct = (n: number, width: number): string => `${n.toString(8).padStart(width - 1, '0')}\0`;

function put(h: Buffer, off: number, len: number, v: string | Buffer): void {
  const b = typeof v === 'string' ? Buffer.from(v, 'latin1') : v;
  b.copy(h, off, 0, Math.min(len, b.length));
}

/** Encode a header block from fields. */
export function headerBlock(f: Fields): Buffer {
  const h = Buffer.alloc(BLOCK);
  put(h, 0, 100, f.name);
  put(h, 100, 8, f.mode);
  put(h, 108, 8, f.uid);
  put(h, 116, 8, f.gid);
  put(h, 124, 12, f.size);
  put(h, 136, 12, f.mtime);
  put(h, 156, 1, f.typeflag);
  put(h, 157, 100, f.linkname);
  put(h, 257, 8, f.magic);
  put(h, 329, 8, f.devmajor);
  put(h, 337, 8, f.devminor);
  put(h, 345, 155, f.prefix);
  h.fill(0x20, 148, 156);
  let unsigned = 0;
  let signed = 0;
  for (const b of h) {
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  const sum = f.checksum === 'signed' ? signed : f.checksum === 'bad' ? unsigned + 1 : unsigned;
  h.write(`${(sum >>> 0 === sum ? sum : sum & 0o777777).toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

function pad(b: Buffer): Buffer {
  const rest = b.length % BLOCK;
  return rest === 0 ? b : Buffer.concat([b, Buffer.alloc(BLOCK - rest)]);
}

/** A correct pax record for key=value, with `lead` between length and key. */
export function paxRecord(key: string, value: string, lead = ' '): string {
  const body = `${lead}${key}=${value}\n`;
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len++;
  return `${len}${body}`;
}

/** A generated case: the archive and what was done to it (for the failure message). */
export interface FuzzCase {
  tar: Buffer;
  steps: string[];
}

const NAMES = ['a', 'dir/', 'dir/f', 'usr/bin/tool', './x', 'a/./b', 'a//b', 'lnk', '.wh.old', `${'n'.repeat(99)}/m`, `p/${'q'.repeat(98)}`, '../up', '/abs'];

/** Generate case `index` of run `seed`. */
export function fuzzCase(seed: number, index: number): FuzzCase {
  const r = prng((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const chance = (p: number): boolean => r() < p;
  const steps: string[] = [];
  const parts: Buffer[] = [];
  const entries = 1 + Math.floor(r() * 3);
  for (let e = 0; e < entries; e++) {
    const typeflag = pick(['0', '0', '0', '5', '2', '1', '3', '4', '6', '7', '\0', 'S', 'D', 'V', 'A']);
    const data = typeflag === '0' || typeflag === '7' || typeflag === '\0' ? Buffer.alloc(Math.floor(r() * 1500), 0x61 + e) : Buffer.alloc(0);
    const f: Fields = {
      name: pick(NAMES) + (e > 0 ? String(e) : ''),
      mode: oct(pick([0o644, 0o755, 0o4755, 0o1777, 0o2750, 0o100644]), 8),
      uid: oct(pick([0, 1000, 262143, 300000, 2097151]), 8),
      gid: oct(pick([0, 50, 2097151]), 8),
      size: oct(data.length, 12),
      mtime: oct(1_700_000_000, 12),
      typeflag,
      linkname: typeflag === '1' || typeflag === '2' ? pick(['a', 'dir/f', '/etc/target', '../x', 'a/./b']) : '',
      magic: 'ustar\u000000',
      devmajor: oct(typeflag === '3' || typeflag === '4' ? pick([1, 7, 4095]) : 0, 8),
      devminor: oct(typeflag === '3' || typeflag === '4' ? pick([3, 255, 1048575]) : 0, 8),
      prefix: '',
      checksum: 'ok',
    };
    const pax: string[] = [];
    const mutate = (what: string, fn: () => void): void => {
      steps.push(`entry ${e}: ${what}`);
      fn();
    };
    const n = Math.floor(r() * 4);
    for (let m = 0; m < n; m++) {
      switch (Math.floor(r() * 20)) {
        case 0: mutate('pax path with odd spacing', () => pax.push(paxRecord('path', pick(['p/x', 'lnk/evil', 'ok']), pick([' ', '  ', '\t', ' \t'])))); break;
        case 1: mutate('pax size', () => pax.push(paxRecord('size', pick(['0', '512', String(data.length), '-1', '99999999999999999999', '1e3', ' 5']), pick([' ', ' ', '  '])))); break;
        case 2: mutate('repeated pax key', () => pax.push(paxRecord('path', 'one'), paxRecord('path', 'two'))); break;
        case 3: mutate('pax length with a leading zero or blank', () => pax.push(pick(['013 path=abc\n', ' 12 path=ab\n', '+12 path=ab\n', '12 path=ab\n']))); break;
        case 4: mutate('pax uid/gid odd values', () => pax.push(paxRecord(pick(['uid', 'gid']), pick(['3000000000', '-1', '00012', '12x', '4294967296', ''])))); break;
        case 5: mutate('pax linkpath', () => pax.push(paxRecord('linkpath', pick(['t', '/abs/t', '../t', 'a/./b'])))); break;
        case 6: mutate('unknown and odd pax keys', () => pax.push(paxRecord(pick(['comment', 'LIBARCHIVE.xattr.user.a', 'SCHILY.xattrXuser.a', 'GNU.sparse.name', 'path ', 'pa\0th', 'hdrcharset']), 'v'))); break;
        case 7: mutate('pax mtime', () => pax.push(paxRecord('mtime', pick(['1700000000.5', '-5', '1e9', '17000000000000000000000', '.5'])))); break;
        case 8: mutate('base-256 number', () => {
          const b = Buffer.alloc(8);
          b[0] = pick([0x80, 0xff]);
          b.writeUInt32BE(pick([5, 3_000_000_000, 0xffffffff]), 4);
          if (chance(0.5)) f.uid = b;
          else f.gid = b;
        }); break;
        case 9: mutate('base-256 size', () => {
          const b = Buffer.alloc(12);
          b[0] = pick([0x80, 0xc0]);
          b.writeUInt32BE(data.length, 8);
          f.size = b;
        }); break;
        case 10: mutate('odd magic/version', () => (f.magic = pick(['ustar\u0000xx', 'ustar  \u0000', '\0\0\0\0\0\0\0\0', 'ustar\u0000\u0000\u0000', 'USTAR\u000000']))); break;
        case 11: mutate('prefix field', () => (f.prefix = pick(['pre', 'lnk', '../x', 'a\0junk']))); break;
        case 12: mutate('NUL inside the name', () => (f.name = Buffer.from(`ok\0${pick(['../x', 'junk'])}`, 'latin1'))); break;
        case 13: mutate('size field with blanks or junk', () => (f.size = pick([` ${data.length.toString(8)} `, `${data.length.toString(8).padStart(11, '0')}x`, `${data.length.toString(8).padStart(12, '0')}`, '   \0', '-1']))); break;
        case 14: mutate('GNU long name', () => parts.push(gnuLong('L', pick(['long/name', 'lnk/evil', `${'l'.repeat(120)}`, 'a\0b']), r()))); break;
        case 15: mutate('GNU long link', () => parts.push(gnuLong('K', pick(['t', '../t', `${'t'.repeat(150)}`]), r()))); break;
        case 16: mutate('signed or bad checksum', () => {
          f.checksum = pick(['signed', 'bad']);
          f.linkname = Buffer.from([0xe4, 0xf6, 0xfc]);
        }); break;
        case 17: mutate('mode with high bits', () => (f.mode = pick(['7777777\0', '0170755\0', '00000-1\0']))); break;
        case 18: mutate('global pax header', () => parts.push(extended('g', paxRecord('path', 'g/evil')))); break;
        case 19: mutate('size on a header-only entry', () => (f.size = oct(512, 12))); break;
      }
    }
    if (pax.length) {
      parts.push(extended('x', pax.join('')));
      if (chance(0.15)) { steps.push(`entry ${e}: stacked pax headers`); parts.push(extended('x', paxRecord('path', 'second'))); }
      if (chance(0.15)) { steps.push(`entry ${e}: 'x' followed by 'L'`); parts.push(gnuLong('L', 'after/x', 0)); }
    }
    parts.push(headerBlock(f), pad(data));
  }
  if (chance(0.1)) {
    steps.push('a lone zero block, then an entry');
    parts.push(Buffer.alloc(BLOCK), headerBlock({ ...baseFields('after/zero'), size: oct(0, 12) }));
  }
  parts.push(Buffer.alloc(2 * BLOCK));
  if (chance(0.1)) {
    steps.push('bytes after the end of the archive');
    parts.push(headerBlock(baseFields('trailing')));
  }
  return { tar: Buffer.concat(parts), steps };
}

function baseFields(name: string): Fields {
  return { name, mode: oct(0o644, 8), uid: oct(0, 8), gid: oct(0, 8), size: oct(0, 12), mtime: oct(1_700_000_000, 12), typeflag: '0', linkname: '', magic: 'ustar\u000000', devmajor: oct(0, 8), devminor: oct(0, 8), prefix: '', checksum: 'ok' };
}

/** An extended header ('x' or 'g') with its records. */
function extended(type: 'x' | 'g', records: string): Buffer {
  const body = Buffer.from(records, 'latin1');
  return Buffer.concat([headerBlock({ ...baseFields('././@PaxHeader'), typeflag: type, size: oct(body.length, 12) }), pad(body)]);
}

/** A GNU 'L' or 'K' record (with or without its NUL terminator). */
function gnuLong(type: 'L' | 'K', text: string, coin: number): Buffer {
  const body = Buffer.from(coin < 0.8 ? `${text}\0` : text, 'latin1');
  return Buffer.concat([headerBlock({ ...baseFields('././@LongLink'), typeflag: type, size: oct(body.length, 12), magic: 'ustar  \u0000' }), pad(body)]);
}
