/**
 * The canonical tar header of an accepted entry ("one tar truth", issue 9): GNU tar
 * never sees the layer's own header bytes, only this encoding of ferry's parsed view.
 * A POSIX ustar header (magic "ustar\0", version "00", octal numbers, correct checksum)
 * preceded, only where ustar cannot say it, by a pax 'x' header with exactly the keys
 * ferry understood: path, linkpath, size, uid, gid, mtime and SCHILY.xattr.* (binary
 * values byte for byte). No GNU long names, no global headers, no other pax keys.
 */
import { BLOCK, paddedSize } from '../../oci/tar-header.js';
import type { EntryKind } from './entry-path.js';
import type { TarEntry } from './tar-sanitizer.js';

const TYPEFLAG: Record<EntryKind, string> = { file: '0', hardlink: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6' };

/** Largest values of the ustar octal fields (7 digits for ids and devices, 11 for size and mtime). */
const MAX7 = 0o7777777;
const MAX11 = 0o77777777777;

/** The prefix the pax records of xattrs carry (GNU tar, star). */
export const XATTR_PREFIX = 'SCHILY.xattr.';

/** Write `v` as zero-padded octal digits and a NUL, byte by byte (no strings: this runs per entry). */
function octal(h: Buffer, off: number, width: number, v: number): void {
  h[off + width - 1] = 0;
  for (let i = off + width - 2; i >= off; i--) {
    h[i] = 0x30 + (v % 8);
    v = Math.floor(v / 8);
  }
}

/** Every header starts as this block: magic "ustar\0", version "00", the rest zero. */
const TEMPLATE = Buffer.alloc(BLOCK);
TEMPLATE.write('ustar\u000000', 257, 'latin1');

/** One pax record "<len> <key>=<value>\n"; the length counts its own digits. */
function paxRecord(key: string, value: string): Buffer {
  const body = 3 + key.length + value.length; // " " "=" "\n"
  let len = body + String(body).length;
  if (String(len).length + body !== len) len++;
  const b = Buffer.allocUnsafe(len);
  b.write(`${len} ${key}=`, 0, 'latin1');
  b.write(value, len - 1 - value.length, 'latin1');
  b[len - 1] = 0x0a;
  return b;
}

/** Split a path into ustar prefix (<= 155) and name (<= 100), or undefined when it cannot be. */
function ustarSplit(p: string): [string, string] | undefined {
  if (p.length <= 100) return ['', p];
  for (let i = p.indexOf('/', p.length - 101); i !== -1 && i <= 155; i = p.indexOf('/', i + 1)) {
    if (i > 0 && p.length - i - 1 <= 100 && p.length - i - 1 > 0) return [p.slice(0, i), p.slice(i + 1)];
  }
  return undefined;
}

function ustarHeader(name: string, prefix: string, typeflag: string, e: { mode: number; uid: number; gid: number; size: number; mtime: number; link: string; devmajor: number; devminor: number }): Buffer {
  const h = Buffer.allocUnsafe(BLOCK);
  TEMPLATE.copy(h);
  h.write(name, 0, 100, 'latin1');
  octal(h, 100, 8, e.mode);
  octal(h, 108, 8, e.uid);
  octal(h, 116, 8, e.gid);
  octal(h, 124, 12, e.size);
  octal(h, 136, 12, e.mtime);
  h.write(typeflag, 156, 'latin1');
  h.write(e.link, 157, 100, 'latin1');
  octal(h, 329, 8, e.devmajor);
  octal(h, 337, 8, e.devminor);
  h.write(prefix, 345, 155, 'latin1');
  let sum = 8 * 0x20;
  for (let i = 0; i < BLOCK; i++) if (i < 148 || i >= 156) sum += h[i]!;
  octal(h, 148, 7, sum);
  h[155] = 0x20;
  return h;
}

/** The canonical header block(s) of an entry: [pax header, pax records padded,] ustar header. */
export function encodeEntry(e: TarEntry): Buffer {
  const name = e.path === '' ? '.' : e.path;
  const recs: Buffer[] = [];
  const split = ustarSplit(name);
  if (split === undefined) recs.push(paxRecord('path', name));
  if (e.link.length > 100) recs.push(paxRecord('linkpath', e.link));
  if (e.size > MAX11) recs.push(paxRecord('size', String(e.size)));
  if (e.uid > MAX7) recs.push(paxRecord('uid', String(e.uid)));
  if (e.gid > MAX7) recs.push(paxRecord('gid', String(e.gid)));
  const wholeMtime = /^[0-9]+$/.test(e.mtime) ? Number(e.mtime) : NaN;
  if (!(wholeMtime <= MAX11)) recs.push(paxRecord('mtime', e.mtime));
  for (const [k, v] of e.xattrs) recs.push(paxRecord(XATTR_PREFIX + k, v));
  const header = ustarHeader(split?.[1] ?? name.slice(-100), split?.[0] ?? '', TYPEFLAG[e.kind], {
    mode: e.mode & 0o7777,
    uid: Math.min(e.uid, MAX7),
    gid: Math.min(e.gid, MAX7),
    size: e.size > MAX11 ? 0 : e.size,
    mtime: wholeMtime <= MAX11 ? wholeMtime : Math.min(Math.max(Math.trunc(Number(e.mtime)) || 0, 0), MAX11),
    link: e.link.length > 100 ? e.link.slice(0, 100) : e.link,
    devmajor: e.devmajor,
    devminor: e.devminor,
  });
  if (recs.length === 0) return header;
  const body = Buffer.concat(recs);
  const paxHeader = ustarHeader('././@PaxHeader', '', 'x', { mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: 0, link: '', devmajor: 0, devminor: 0 });
  const out = Buffer.alloc(2 * BLOCK + paddedSize(body.length));
  paxHeader.copy(out, 0);
  body.copy(out, BLOCK);
  header.copy(out, BLOCK + paddedSize(body.length));
  return out;
}
