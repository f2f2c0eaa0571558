/**
 * A strict decoder for tar header blocks (POSIX.1-1988 ustar, POSIX.1-2001 pax,
 * GNU long names, GNU base-256 numbers). Pure: bytes in, values or FerryError out.
 *
 * Names and pax values are kept as "byte strings" (latin1: one char per byte) so a
 * name that is not UTF-8 is checked exactly as GNU tar and the kernel will see it;
 * pax values (SCHILY.xattr.* may be binary) are never decoded at all.
 */
import { FerryError } from '../errors.js';

export const BLOCK = 512;

/** Caps on what one layer may make ferry hold (FILE_TOO_LARGE above the sizes, LIMIT_EXCEEDED above the entry count). */
export const ExtractCaps = {
  /** One pax extended header, or one GNU long name/link record. */
  paxHeader: 1024 * 1024,
  /** A path or link target after all headers are applied (Linux PATH_MAX). */
  nameLength: 4096,
  /** Entries in one layer (the layer gate's path trie grows with it). */
  entries: 1_000_000,
} as const;

/** The fields of one 512-byte header block that ferry acts on. */
export interface RawHeader {
  /** ustar prefix + "/" + name, or the name field alone (GNU and v7 formats). */
  name: string;
  linkname: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch (the octal or base-256 field; pax mtime may refine it). */
  mtime: number;
  /** Device numbers of char and block entries (0 for every other type, as GNU tar reads them). */
  devmajor: number;
  devminor: number;
  typeflag: string;
  /** "ustar" (POSIX), "gnu" ("ustar  "), or "v7" (no magic). */
  format: 'ustar' | 'gnu' | 'v7';
}

/** CORRUPT_ARCHIVE with the layer named and the fix said. */
export function corruptArchive(what: string, msg: string, details: Record<string, unknown> = {}): FerryError {
  return new FerryError('CORRUPT_ARCHIVE', `${what}: ${msg}: the layer is damaged or not a valid tar; re-create the image`, { details });
}

/** True when the 512 bytes at `off` are all zero (an end-of-archive block). */
export function isZeroBlock(b: Buffer, off = 0): boolean {
  for (let i = off; i < off + BLOCK; i++) if (b[i] !== 0) return false;
  return true;
}

/** Decode an octal or GNU base-256 number field; undefined when malformed or unsafe. */
export function parseNumber(field: Buffer): number | undefined {
  if (field.length > 0 && (field[0]! & 0x80) !== 0) {
    // base-256: big-endian two's complement with the high bit as marker; refuse negatives.
    if ((field[0]! & 0x40) !== 0) return undefined;
    let v = field[0]! & 0x3f;
    for (let i = 1; i < field.length; i++) v = v * 256 + field[i]!;
    return Number.isSafeInteger(v) ? v : undefined;
  }
  let i = 0;
  while (i < field.length && field[i] === 0x20) i++;
  let v = 0;
  let digits = 0;
  for (; i < field.length; i++) {
    const c = field[i]!;
    if (c >= 0x30 && c <= 0x37) {
      v = v * 8 + (c - 0x30);
      digits++;
    } else break;
  }
  for (; i < field.length; i++) if (field[i] !== 0 && field[i] !== 0x20) return undefined;
  if (!Number.isSafeInteger(v)) return undefined;
  return digits === 0 ? 0 : v;
}

function cString(b: Buffer, start: number, len: number): string {
  const end = b.indexOf(0, start);
  return b.toString('latin1', start, end === -1 || end > start + len ? start + len : end);
}

/** Verify the header checksum: the unsigned byte sum with the checksum field read as spaces. */
export function checksumOk(h: Buffer): boolean {
  const stored = parseNumber(h.subarray(148, 156));
  let sum = 8 * 0x20;
  for (let i = 0; i < BLOCK; i++) if (i < 148 || i >= 156) sum += h[i]!;
  return stored === sum;
}

/** The header's format from its magic field. */
function headerFormat(h: Buffer): RawHeader['format'] {
  const magic = h.toString('latin1', 257, 265);
  // As GNU tar decides (list.c): "ustar\0" is POSIX ustar whatever the two version bytes hold,
  // so the prefix field is part of the name; reading it otherwise would check another name than tar writes.
  return magic.startsWith('ustar\u0000') ? 'ustar' : magic === 'ustar  \u0000' ? 'gnu' : 'v7';
}

/** The member name a header block holds, as a byte string: ustar prefix + "/" + name, or the name field alone. */
export function headerName(h: Buffer, format: RawHeader['format'] = headerFormat(h)): string {
  const name = cString(h, 0, 100);
  // The ustar prefix field only exists in POSIX ustar; GNU keeps atime/ctime there.
  const prefix = format === 'ustar' ? cString(h, 345, 155) : '';
  return prefix !== '' ? `${prefix}/${name}` : name;
}

/** Decode one non-zero header block, refusing bad checksums and malformed numbers. */
export function parseHeader(h: Buffer, what: string): RawHeader {
  if (!checksumOk(h)) throw corruptArchive(what, 'a tar header has a bad checksum');
  const format = headerFormat(h);
  const mode = parseNumber(h.subarray(100, 108));
  const uid = parseNumber(h.subarray(108, 116));
  const gid = parseNumber(h.subarray(116, 124));
  const size = parseNumber(h.subarray(124, 136));
  const mtime = parseNumber(h.subarray(136, 148));
  const tf = h[156]!;
  const typeflag = tf === 0 ? '0' : String.fromCharCode(tf);
  // GNU tar (list.c decode_header) reads the device fields only for char and block entries.
  const isDev = typeflag === '3' || typeflag === '4';
  const devmajor = isDev ? parseNumber(h.subarray(329, 337)) : 0;
  const devminor = isDev ? parseNumber(h.subarray(337, 345)) : 0;
  const fields = { mode, uid, gid, size, mtime, devmajor, devminor };
  const bad = Object.entries(fields).filter(([, v]) => v === undefined).map(([k]) => k);
  if (bad.length) throw corruptArchive(what, `a tar header has malformed numeric fields (${bad.join(', ')})`);
  return {
    name: headerName(h, format),
    linkname: cString(h, 157, 100),
    mode: mode!,
    uid: uid!,
    gid: gid!,
    size: size!,
    mtime: mtime!,
    devmajor: devmajor!,
    devminor: devminor!,
    typeflag,
    format,
  };
}

/**
 * Parse pax extended header records ("<len> <key>=<value>\n", POSIX.1-2001 pax
 * "extended header"). Values stay byte strings; lengths are trusted only after checks.
 *
 * Strictly narrower than GNU tar's reader (src/xheader.c, decode_record / xheader_decode),
 * so no record can mean one thing to ferry and another to tar:
 * - decode_record skips blanks AND tabs before the length and after it ("12  path=x" is
 *   "path" to tar): ferry wants the length at the record start and exactly one space after it;
 * - the length goes through strtoumax (leading zeros accepted): ferry refuses leading zeros;
 * - the key runs to the first "=" found by strchr, so a NUL before it ends tar's parse and a
 *   blank inside it is part of tar's key: ferry accepts only printable ASCII keys, no blanks;
 * - a record starting with NUL silently ends tar's parse (later records ignored): ferry
 *   allows only NULs from there to the end;
 * - decx applies records in order, so a repeated key means its last value: ferry refuses it.
 */
export function parsePaxRecords(data: Buffer, what: string): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  while (i < data.length) {
    if (data[i] === 0) {
      for (let j = i; j < data.length; j++) if (data[j] !== 0) throw corruptArchive(what, 'a pax header has bytes after its records');
      break;
    }
    const sp = data.indexOf(0x20, i);
    if (sp === -1 || sp - i > 10) throw corruptArchive(what, 'a pax record has no length');
    const lenText = data.toString('latin1', i, sp);
    if (!/^[1-9][0-9]*$/.test(lenText)) throw corruptArchive(what, `a pax record has a malformed length ${JSON.stringify(lenText)}`);
    const len = Number(lenText);
    if (i + len > data.length || len <= sp + 1 - i || data[i + len - 1] !== 0x0a) throw corruptArchive(what, 'a pax record length does not match its content');
    const eq = data.indexOf(0x3d, sp + 1);
    if (eq === -1 || eq >= i + len - 1) throw corruptArchive(what, 'a pax record has no "="');
    const key = data.toString('latin1', sp + 1, eq);
    if (!PAX_KEY.test(key)) throw corruptArchive(what, `a pax record has a malformed key ${JSON.stringify(key.slice(0, 64))} (GNU tar could read it differently)`);
    if (out.has(key)) throw corruptArchive(what, `a pax header repeats the key ${JSON.stringify(key)} (GNU tar would use the last one)`);
    out.set(key, data.toString('latin1', eq + 1, i + len - 1));
    i += len;
  }
  return out;
}

/** pax keys ferry accepts: printable ASCII without blanks (and "=" ends the key anyway). */
const PAX_KEY = /^[\x21-\x3c\x3e-\x7e]{1,256}$/;

/** Decode a pax numeric value (uid, gid, size): decimal digits only. */
export function paxNumber(v: string, key: string, what: string): number {
  if (!/^[0-9]{1,16}$/.test(v)) throw corruptArchive(what, `pax ${key} "${v.slice(0, 32)}" is not a decimal number`);
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw corruptArchive(what, `pax ${key} ${v} is too large`);
  return n;
}

/** Bytes of data (padded to whole blocks) that follow a header with `size`. */
export function paddedSize(size: number): number {
  return Math.ceil(size / BLOCK) * BLOCK;
}
