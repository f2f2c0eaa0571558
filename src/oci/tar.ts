/**
 * A strict, capped tar header codec (POSIX.1-2001 pax + ustar + GNU long names).
 * Reading: `indexTar` walks a tar FILE header by header, seeking past data, so an
 * oci-archive is never unpacked to temp space; blobs are then read as byte ranges.
 * Writing: `tarHeader` builds the headers of ferry's own archives (ustar, plus a pax
 * `path` record for long names).
 */
import * as fsp from 'node:fs/promises';
import { FerryError } from '../errors.js';
import { checksumOk, headerName, parseNumber, parsePaxRecords } from './tar-header.js';

/** Caps on what a tar may make us hold in memory. */
export const TarCaps = {
  paxRecord: 1024 * 1024,
  longName: 64 * 1024,
  // OCI and docker archives hold a few hundred members; this bounds the index's memory
  entries: 200_000,
} as const;

export type TarEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'other';

/** One member of a tar file: where its data starts and how long it is. */
export interface TarEntry {
  name: string;
  type: TarEntryType;
  /** Byte offset of the data in the tar file. */
  offset: number;
  size: number;
  linkname: string;
}

/** The members of a tar file by normalised name (last one wins, as with extraction). */
export interface TarIndex {
  file: string;
  entries: Map<string, TarEntry>;
}

function corrupt(file: string, msg: string): FerryError {
  return new FerryError('CORRUPT_ARCHIVE', `${file}: ${msg}: the archive is damaged or not a tar; re-create it`, { details: { file } });
}

function utf8(byteString: string): string {
  return Buffer.from(byteString, 'latin1').toString('utf8');
}

function cString(buf: Buffer, start: number, len: number): string {
  const end = buf.indexOf(0, start);
  return buf.toString('utf8', start, end === -1 || end > start + len ? start + len : end);
}

/** "./a//b/" → "a/b"; the root itself is "". */
export function normaliseTarName(name: string): string {
  return name
    .split('/')
    .filter((p) => p !== '' && p !== '.')
    .join('/');
}

function typeOf(flag: number): TarEntryType {
  switch (String.fromCharCode(flag)) {
    case '0':
    case '\0':
    case '7':
      return 'file';
    case '5':
      return 'directory';
    case '2':
      return 'symlink';
    case '1':
      return 'hardlink';
    default:
      return 'other';
  }
}

async function readExact(fh: fsp.FileHandle, len: number, pos: number, fileSize: number, file: string): Promise<Buffer> {
  if (pos + len > fileSize) throw corrupt(file, `truncated at byte ${fileSize} (needed ${pos + len})`);
  const buf = Buffer.alloc(len);
  let off = 0;
  while (off < len) {
    const { bytesRead } = await fh.read(buf, off, len - off, pos + off);
    if (bytesRead === 0) throw corrupt(file, 'truncated while reading');
    off += bytesRead;
  }
  return buf;
}

/** Index a tar file by walking its headers; data is skipped, never read (except pax/long-name records). */
export async function indexTar(file: string): Promise<TarIndex> {
  const fh = await fsp.open(file, 'r');
  try {
    const fileSize = (await fh.stat()).size;
    const entries = new Map<string, TarEntry>();
    let pos = 0;
    let pax = new Map<string, string>();
    let longName: string | undefined;
    let longLink: string | undefined;
    let count = 0;
    for (;;) {
      if (pos === fileSize) throw corrupt(file, 'ends without the end-of-archive marker');
      const h = await readExact(fh, 512, pos, fileSize, file);
      if (h.every((b) => b === 0)) break;
      if (!checksumOk(h)) throw corrupt(file, `bad header checksum at byte ${pos}`);
      if (++count > TarCaps.entries) throw corrupt(file, `more than ${TarCaps.entries} entries`);
      let size = parseNumber(h.subarray(124, 136));
      if (size === undefined) throw corrupt(file, `bad size field at byte ${pos}`);
      const flag = String.fromCharCode(h[156]!);
      const dataPos = pos + 512;
      if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
        const cap = flag === 'x' || flag === 'g' ? TarCaps.paxRecord : TarCaps.longName;
        if (size > cap) throw corrupt(file, `extended header of ${size} bytes over the ${cap}-byte cap`);
        const data = await readExact(fh, size, dataPos, fileSize, file);
        if (flag === 'x') pax = parsePaxRecords(data, file);
        else if (flag === 'L') longName = cString(data, 0, data.length);
        else if (flag === 'K') longLink = cString(data, 0, data.length);
        pos = dataPos + Math.ceil(size / 512) * 512;
        continue;
      }
      // pax values and header names are byte strings (tar-header.ts); names are UTF-8
      const paxPath = pax.get('path');
      const paxLink = pax.get('linkpath');
      let name = (paxPath !== undefined ? utf8(paxPath) : undefined) ?? longName ?? utf8(headerName(h));
      const linkname = (paxLink !== undefined ? utf8(paxLink) : undefined) ?? longLink ?? cString(h, 157, 100);
      if (pax.has('size')) {
        size = Number(pax.get('size'));
        if (!Number.isSafeInteger(size) || size < 0) throw corrupt(file, `bad pax size for ${name}`);
      }
      const type = typeOf(h[156]!);
      const dataSize = type === 'file' || type === 'other' ? size : 0;
      if (dataPos + dataSize > fileSize) throw corrupt(file, `truncated inside ${name}`);
      name = normaliseTarName(name);
      entries.set(name, { name, type, offset: dataPos, size: dataSize, linkname });
      pos = dataPos + Math.ceil(dataSize / 512) * 512;
      pax = new Map();
      longName = longLink = undefined;
    }
    return { file, entries };
  } finally {
    await fh.close();
  }
}

function writeOctal(buf: Buffer, value: number, off: number, len: number): void {
  buf.write(value.toString(8).padStart(len - 1, '0') + '\0', off, len, 'latin1');
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

/** Fields of a header ferry writes (its own archives only). */
export interface TarHeaderInput {
  name: string;
  type: 'file' | 'directory';
  size: number;
  mode?: number;
  mtime?: number;
}

function ustarBlock(name: string, type: string, size: number, mode: number, mtime: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  writeOctal(h, mode, 100, 8);
  writeOctal(h, 0, 108, 8);
  writeOctal(h, 0, 116, 8);
  writeOctal(h, size, 124, 12);
  writeOctal(h, mtime, 136, 12);
  h.write(type, 156, 1, 'latin1');
  h.write('ustar\0' + '00', 257, 8, 'latin1');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += h[i]!;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return h;
}

/** The header block(s) for one member; long names and sizes ≥ 8 GiB get a pax header first. */
export function tarHeader(e: TarHeaderInput): Buffer {
  const name = e.type === 'directory' && !e.name.endsWith('/') ? `${e.name}/` : e.name;
  const mode = e.mode ?? (e.type === 'directory' ? 0o755 : 0o644);
  const mtime = e.mtime ?? 0;
  let pax = '';
  if (Buffer.byteLength(name) > 100) pax += paxRecord('path', name);
  if (e.size >= 8 ** 11) pax += paxRecord('size', String(e.size));
  const main = ustarBlock(Buffer.byteLength(name) > 100 ? name.slice(0, 99) : name, e.type === 'directory' ? '5' : '0', e.size >= 8 ** 11 ? 0 : e.size, mode, mtime);
  if (pax === '') return main;
  const data = Buffer.from(pax, 'utf8');
  const padded = Buffer.alloc(Math.ceil(data.length / 512) * 512);
  data.copy(padded);
  return Buffer.concat([ustarBlock('PaxHeaders/x', 'x', data.length, 0o644, mtime), padded, main]);
}

/** Zero padding after `size` data bytes. */
export function tarPadding(size: number): Buffer {
  return Buffer.alloc((512 - (size % 512)) % 512);
}

/** The end-of-archive marker: two zero blocks. */
export const TAR_END = Buffer.alloc(1024);
