/**
 * The one read of a blob pushed from a stick: its bytes are hashed as they go out, and the
 * last byte is passed on only once the whole blob has matched its digest. A blob altered on
 * the stick therefore never completes an upload body, so no registry can store it (the
 * registry would refuse it as well: it checks `?digest=`), and ferry reports the same typed
 * error as `ferry verify`. This replaces a full verify of the stick before the push, which
 * read every blob a second time.
 *
 * An upload in parts, or a body sent again (after an auth challenge or a part refused as too
 * large), opens the blob again from some offset: bytes below the hashed position are passed
 * on without being hashed twice, each stream is held to its byte range, and once the blob has
 * failed, every later stream of it fails at its first byte.
 */
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { FerryError } from '../../errors.js';
import type { Descriptor } from '../types.js';

const ALTERED = 'the media was altered or damaged; re-copy it at headquarters';

/** The running check of one blob's bytes on their way to the registry. */
export class UploadCheck {
  private readonly hash = createHash('sha256');
  private hashed = 0;
  private verdict: FerryError | 'ok' | undefined;

  constructor(
    private readonly desc: Descriptor,
    private readonly what: string,
  ) {}

  /** A pass-through for the blob's bytes from `start` to `end` (inclusive; default: to the end of the blob). */
  tap(start = 0, end = this.desc.size - 1): Transform {
    let at = start;
    const size = (actual: string) => new FerryError('SIZE_MISMATCH', `${this.what}: expected ${this.desc.size} bytes, the file holds ${actual}: ${ALTERED}`, { details: { expected: this.desc.size, actual } });
    return new Transform({
      transform: (chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) => {
        const from = at;
        at += chunk.length;
        if (at > end + 1) return cb(size(`more than ${end + 1}`));
        try {
          this.take(chunk, from);
        } catch (e) {
          return cb(e as Error);
        }
        cb(null, chunk);
      },
      flush: (cb: TransformCallback) => {
        if (at !== end + 1) return cb(size(String(at)));
        try {
          if (this.desc.size === 0) this.take(Buffer.alloc(0), 0, true); // an empty blob has no last byte to hold back
        } catch (e) {
          return cb(e as Error);
        }
        cb();
      },
    });
  }

  /** Hash what is new in `chunk` (which starts at blob offset `from`); throws before the last byte if the blob does not match. */
  private take(chunk: Buffer, from: number, empty = false): void {
    if (this.verdict instanceof FerryError) throw this.verdict;
    if (from > this.hashed) throw new FerryError('INTERNAL', `${this.what}: bytes from ${from} were to be sent before bytes from ${this.hashed}`);
    const fresh = chunk.subarray(this.hashed - from);
    if (fresh.length === 0 && !(empty && this.verdict === undefined)) return;
    this.hash.update(fresh);
    this.hashed += fresh.length;
    if (this.hashed < this.desc.size) return;
    const actual = `sha256:${this.hash.digest('hex')}`;
    this.verdict =
      actual === this.desc.digest && this.hashed === this.desc.size
        ? 'ok'
        : new FerryError('DIGEST_MISMATCH', `${this.what}: content does not match its digest (expected ${this.desc.digest}, got ${actual}): ${ALTERED}`, { details: { expected: this.desc.digest, actual } });
    if (this.verdict !== 'ok') throw this.verdict;
  }
}
