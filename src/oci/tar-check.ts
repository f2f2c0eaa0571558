/**
 * A pass-through that checks the tar structure of an uncompressed layer as it streams:
 * every header's checksum, and that the stream does not end inside a header or a member.
 * It looks only at headers (data is counted, not copied), so it is cheap; it runs on
 * every layer ferry decodes, and turns "not a tar" or "cut short" into CORRUPT_ARCHIVE.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { FerryError } from '../errors.js';
import { TarCaps } from './tar.js';
import { checksumOk, parseNumber, parsePaxRecords } from './tar-header.js';

/** Streaming tar structure check. */
export class TarStructureCheck extends Transform {
  private header = Buffer.alloc(512);
  private headerFill = 0;
  /** Data bytes (incl. padding) still to skip for the current member. */
  private skip = 0;
  /** Collected pax data of an 'x' header (to honour a pax `size`). */
  private pax: Buffer[] | undefined;
  private paxLeft = 0;
  private paxSize: number | undefined;
  private ended = false;
  private offset = 0;

  constructor(private readonly what: string) {
    super();
  }

  private fail(msg: string): FerryError {
    return new FerryError('CORRUPT_ARCHIVE', `${this.what}: ${msg}: the layer is not a valid tar; re-create the image`);
  }

  private onHeader(h: Buffer): void {
    if (h.every((b) => b === 0)) {
      this.ended = true;
      return;
    }
    if (this.ended) return; // data after the end marker is ignored, as tar does
    if (!checksumOk(h)) throw this.fail(`bad tar header checksum at byte ${this.offset - 512}`);
    let size = parseNumber(h.subarray(124, 136));
    if (size === undefined) throw this.fail(`bad size field at byte ${this.offset - 512}`);
    const flag = String.fromCharCode(h[156]!);
    if (flag === 'x') {
      if (size > TarCaps.paxRecord) throw this.fail('pax header over the cap');
      this.pax = [];
      this.paxLeft = size;
    } else if (this.paxSize !== undefined) {
      size = this.paxSize;
      this.paxSize = undefined;
    }
    // links, directories, devices and fifos carry no data whatever their size field says
    const hasData = flag === '0' || flag === '\0' || flag === '7' || flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K';
    this.skip = hasData ? Math.ceil(size / 512) * 512 : 0;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      let i = 0;
      while (i < chunk.length) {
        if (this.skip > 0) {
          const n = Math.min(this.skip, chunk.length - i);
          if (this.pax && this.paxLeft > 0) {
            const take = Math.min(n, this.paxLeft);
            this.pax.push(chunk.subarray(i, i + take));
            this.paxLeft -= take;
          }
          this.skip -= n;
          i += n;
          this.offset += n;
          if (this.skip === 0 && this.pax) {
            const size = parsePaxRecords(Buffer.concat(this.pax), this.what).get('size');
            this.paxSize = size === undefined ? undefined : Number(size);
            if (this.paxSize !== undefined && (!Number.isSafeInteger(this.paxSize) || this.paxSize < 0)) throw this.fail('bad pax size');
            this.pax = undefined;
          }
          continue;
        }
        const n = Math.min(512 - this.headerFill, chunk.length - i);
        chunk.copy(this.header, this.headerFill, i, i + n);
        this.headerFill += n;
        i += n;
        this.offset += n;
        if (this.headerFill === 512) {
          this.headerFill = 0;
          this.onHeader(this.header);
        }
      }
    } catch (e) {
      cb(e instanceof FerryError ? e : this.fail((e as Error).message));
      return;
    }
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    // Ending right after a member without the two zero blocks is accepted, as GNU tar
    // does (umoci writes such layers); ending inside a header or a member's data is not.
    if (this.ended || (this.offset > 0 && this.skip === 0 && this.headerFill === 0)) cb();
    else cb(this.fail(this.offset === 0 ? 'empty layer' : `cut short at byte ${this.offset}`));
  }
}
