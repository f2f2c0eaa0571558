/**
 * Tar spellings for the hostile-stick corpus that the plain writer in layers.ts does
 * not produce: a ustar prefix field, pax records with odd spacing or literal text,
 * global pax headers, GNU long links ('K'), base-256 and negative size fields. Every
 * header starts as layers.ts writes it and is patched here, with the checksum redone.
 */
import { type RawEntry, tarEntryBytes } from './layers.js';

const BLOCK = 512;

/** Recompute the header checksum of the 512-byte block at `off` in place. */
export function fixChecksum(buf: Buffer, off = 0): Buffer {
  buf.fill(0x20, off + 148, off + 156);
  let sum = 0;
  for (let i = off; i < off + BLOCK; i++) sum += buf[i]!;
  buf.write(sum.toString(8).padStart(6, '0') + '\0 ', off + 148, 'latin1');
  return buf;
}

/** The offset of the LAST header block of an entry written by tarEntryBytes (the real one, after pax / long-name blocks). */
function mainHeaderOffset(bytes: Buffer, e: RawEntry): number {
  const data = e.data === undefined ? 0 : Buffer.byteLength(e.data as string | Buffer);
  const padded = Math.ceil(data / BLOCK) * BLOCK;
  return bytes.length - padded - BLOCK;
}

/** An entry whose name is split into the ustar prefix field (345..500) and the name field. */
export function ustarPrefixEntry(prefix: string, e: RawEntry): Buffer {
  const bytes = tarEntryBytes(e);
  const off = mainHeaderOffset(bytes, e);
  bytes.fill(0, off + 345, off + 500);
  bytes.write(prefix.slice(0, 155), off + 345, 'latin1');
  return fixChecksum(bytes, off);
}

/** One pax record from its literal text after the length ("␠path=x", "␠␠path=x" for odd spacing); the length is computed. */
export function paxRecord(body: string | Buffer): Buffer {
  const b = Buffer.concat([Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'), Buffer.from('\n')]);
  let len = b.length + 1;
  while (String(len).length + b.length !== len) len++;
  return Buffer.concat([Buffer.from(String(len)), b]);
}

/** An extended header block of `type` ('x' per-entry pax, 'g' global pax, 'L' long name, 'K' long link) carrying `body`. */
export function extendedHeader(type: 'x' | 'g' | 'L' | 'K', body: Buffer): Buffer {
  const name = type === 'L' || type === 'K' ? '././@LongLink' : type === 'g' ? 'pax_global_header' : 'PaxHeaders/x';
  return tarEntryBytes({ name, type: type as RawEntry['type'], data: body });
}

/** A pax header made of literal record texts, then the entry. */
export function rawPaxEntry(records: Array<string | Buffer>, e: RawEntry): Buffer {
  return Buffer.concat([extendedHeader('x', Buffer.concat(records.map(paxRecord))), tarEntryBytes(e)]);
}

/** An entry preceded by a GNU long link ('K') record. */
export function gnuLongLinkEntry(link: string, e: RawEntry): Buffer {
  return Buffer.concat([extendedHeader('K', Buffer.from(`${link}\0`, 'latin1')), tarEntryBytes(e)]);
}

/** An entry whose 12-byte size field is written in GNU base-256 (two's complement, so negative values start 0xff). */
export function base256SizeEntry(size: bigint, e: RawEntry): Buffer {
  const bytes = tarEntryBytes(e);
  const off = mainHeaderOffset(bytes, e);
  let v = size < 0n ? (1n << 96n) + size : size;
  for (let i = 11; i >= 0; i--) {
    bytes[off + 124 + i] = Number(v & 0xffn);
    v >>= 8n;
  }
  bytes[off + 124] = size < 0n ? 0xff : (bytes[off + 124]! & 0x7f) | 0x80;
  return fixChecksum(bytes, off);
}

/** A whole archive from already-encoded entries, with the two zero blocks at the end. */
export function rawArchive(parts: Buffer[]): Buffer {
  return Buffer.concat([...parts, Buffer.alloc(2 * BLOCK)]);
}
