/**
 * The unpacked (uncompressed tar) size of a layer, for the device's space check. When
 * ferry decodes a layer anyway, a ByteCounter after the decoder gives the exact number.
 * Otherwise it is read cheaply from the blob without decoding, and only when the
 * container format makes it provable: plain tar (its size), gzip (the ISIZE trailer,
 * see trustedGzipSize for when it is trusted) or zstd (every frame's Frame_Content_Size).
 * Anything else is undefined: omit rather than guess.
 */
import * as fsp from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import type { Compression } from './types.js';

/** A pass-through that counts the bytes flowing through it (and tells `onBytes` of each chunk). */
export class ByteCounter extends Transform {
  bytes = 0;

  constructor(private readonly onBytes?: (n: number) => void) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    this.onBytes?.(chunk.length);
    cb(null, chunk);
  }
}

/** Deflate's largest expansion is 1032:1 (RFC 1951, 258-byte matches coded in 2 bits); plus header slack. */
const DEFLATE_MAX_RATIO = 1032;
const TWO_32 = 2 ** 32;
const SCAN_CHUNK = 1024 * 1024;

/**
 * The uncompressed size of a gzip blob of `size` bytes with trailer ISIZE `isize`
 * (size mod 2^32 of the LAST member only), when it can be trusted:
 *  - `maybeMultiMember` false: no byte after offset 0 could start a member (1f 8b 08 and
 *    reserved flag bits clear), so the trailer is the whole stream's (a concatenation
 *    such as `cat a.gz b.gz` or pigz --independent would otherwise undercount);
 *  - no wrap: the most any deflate stream of this size can hold (1032:1) stays below
 *    2^32, or ISIZE + 2^32 already exceeds that maximum. Larger layers are undecidable
 *    from the trailer alone, so undefined (`export --check-layers` decodes and counts them).
 * Pure.
 */
export function trustedGzipSize(size: number, isize: number, maybeMultiMember: boolean): number | undefined {
  if (maybeMultiMember || size < 18) return undefined;
  const most = (size - 18) * DEFLATE_MAX_RATIO + 1024;
  if (most < TWO_32 || isize + TWO_32 > most) return isize;
  return undefined;
}

/** True when `buf` holds, at some index ≥ `from`, bytes that may begin a gzip member header. */
export function hasMemberHeader(buf: Buffer, from: number): boolean {
  for (let i = buf.indexOf(0x1f, from); i >= 0 && i + 3 < buf.length; i = buf.indexOf(0x1f, i + 1)) {
    if (buf[i + 1] === 0x8b && buf[i + 2] === 0x08 && (buf[i + 3]! & 0xe0) === 0) return true;
  }
  return false;
}

async function gzipUnpacked(fh: fsp.FileHandle, size: number): Promise<number | undefined> {
  if (size < 18) return undefined;
  const buf = Buffer.alloc(SCAN_CHUNK + 3);
  let carry = 0;
  for (let pos = 0; pos < size; ) {
    const { bytesRead } = await fh.read(buf, carry, SCAN_CHUNK, pos);
    if (bytesRead === 0) return undefined;
    const view = buf.subarray(0, carry + bytesRead);
    // a header can straddle chunks: keep the last 3 bytes in front of the next read
    if (hasMemberHeader(view, pos === 0 ? 1 : 0)) return undefined;
    pos += bytesRead;
    carry = Math.min(3, view.length);
    view.copyWithin(0, view.length - carry);
  }
  return trailerSize(fh, size);
}

/** The gzip ISIZE trailer of a single-member blob of `size` bytes, when trustedGzipSize trusts it. */
async function trailerSize(fh: fsp.FileHandle, size: number): Promise<number | undefined> {
  const tail = Buffer.alloc(4);
  await fh.read(tail, 0, 4, size - 4);
  return trustedGzipSize(size, tail.readUInt32LE(0), false);
}

/**
 * True when a gzip member header may start in `chunk` (one chunk of a blob scanned chunk by
 * chunk), also straddling from `edge`, the last 3 bytes of the chunk before; in the blob's
 * `first` chunk, its own header at 0 does not count. `has` is hasMemberHeader, passed in so
 * that this function's source is self-contained (it also runs as a worker's inline source).
 */
export function chunkHasMemberHeader(chunk: Buffer, edge: Uint8Array, first: boolean, has: (buf: Buffer, from: number) => boolean): boolean {
  return has(Buffer.concat([edge, chunk.subarray(0, 3)]), 0) || has(chunk, first ? 1 : 0);
}

const ZSTD_MAGIC = 0xfd2fb528;

/** Sum of Frame_Content_Size over every frame (RFC 8878 3.1), walking block headers only; undefined when any frame lacks it. */
async function zstdUnpacked(fh: fsp.FileHandle, size: number): Promise<number | undefined> {
  const b = Buffer.alloc(18);
  let total = 0;
  let frames = 0;
  for (let pos = 0; pos < size; ) {
    const { bytesRead } = await fh.read(b, 0, 18, pos);
    if (bytesRead < 8) return undefined;
    const magic = b.readUInt32LE(0);
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      pos += 8 + b.readUInt32LE(4); // skippable frame
      continue;
    }
    if (magic !== ZSTD_MAGIC) return undefined;
    const fhd = b[4]!;
    const fcsFlag = fhd >> 6;
    const single = (fhd >> 5) & 1;
    const checksum = (fhd >> 2) & 1;
    const didSize = [0, 1, 2, 4][fhd & 3]!;
    const fcsSize = [single ? 1 : 0, 2, 4, 8][fcsFlag]!;
    if (fcsSize === 0 || (fhd & 0x08) !== 0) return undefined; // no content size, or reserved bit set
    const at = 5 + (single ? 0 : 1) + didSize;
    if (bytesRead < at + fcsSize) return undefined;
    let fcs: number;
    if (fcsSize === 1) fcs = b[at]!;
    else if (fcsSize === 2) fcs = b.readUInt16LE(at) + 256;
    else if (fcsSize === 4) fcs = b.readUInt32LE(at);
    else fcs = Number(b.readBigUInt64LE(at));
    if (!Number.isSafeInteger(fcs)) return undefined;
    const end = await skipBlocks(fh, pos + at + fcsSize, size);
    if (end === undefined) return undefined;
    pos = end + (checksum ? 4 : 0);
    total += fcs;
    frames++;
  }
  return frames > 0 && Number.isSafeInteger(total) ? total : undefined;
}

/** Offset just past the last block of a frame whose blocks start at `pos`, reading 3-byte block headers only. */
async function skipBlocks(fh: fsp.FileHandle, pos: number, size: number): Promise<number | undefined> {
  const h = Buffer.alloc(3);
  for (;;) {
    if (pos + 3 > size) return undefined;
    await fh.read(h, 0, 3, pos);
    const v = h[0]! | (h[1]! << 8) | (h[2]! << 16);
    const type = (v >> 1) & 3;
    if (type === 3) return undefined;
    // an RLE block stores one byte; its size field is the regenerated length
    pos += 3 + (type === 1 ? 1 : v >>> 3);
    if (v & 1) return pos <= size ? pos : undefined;
  }
}

/** The unpacked size of a gzip blob whose member headers were already looked for (ChunkDigester's scan): reads only its 4-byte trailer. */
export async function gzipUnpackedFromScan(file: string, size: number, maybeMultiMember: boolean): Promise<number | undefined> {
  if (maybeMultiMember || size < 18) return undefined;
  const fh = await fsp.open(file, 'r');
  try {
    return await trailerSize(fh, size);
  } finally {
    await fh.close();
  }
}

/** The unpacked size of a stored layer blob, read cheaply without decoding, or undefined when it cannot be trusted. */
export async function unpackedSizeOfBlob(file: string, compression: Compression): Promise<number | undefined> {
  const fh = await fsp.open(file, 'r');
  try {
    const { size } = await fh.stat();
    if (compression === 'none') return size;
    return compression === 'gzip' ? await gzipUnpacked(fh, size) : await zstdUnpacked(fh, size);
  } finally {
    await fh.close();
  }
}
