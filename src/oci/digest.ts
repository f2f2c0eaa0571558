/**
 * Hashing while streaming: every byte read from an untrusted place goes through a
 * DigestVerifier, which refuses more bytes than the descriptor promised as soon as
 * they arrive and checks the digest at the end (image-spec descriptor.md: digests).
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { FerryError } from '../errors.js';
import { digestHex } from './types.js';

/**
 * A pass-through stream that checks size and sha256 of what flows through it.
 * `expectedSize` -1 means "not known" (a config diff_id carries no size): only the digest is checked.
 */
export class DigestVerifier extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private seen = 0;

  constructor(
    readonly expectedDigest: string,
    readonly expectedSize: number,
    readonly what: string = expectedDigest,
  ) {
    super();
  }

  /** Bytes seen so far. */
  get bytes(): number {
    return this.seen;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length;
    if (this.expectedSize >= 0 && this.seen > this.expectedSize) {
      cb(sizeMismatch(this.what, this.expectedSize, `more than ${this.expectedSize}`));
      return;
    }
    this.hash.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    if (this.expectedSize >= 0 && this.seen !== this.expectedSize) {
      cb(sizeMismatch(this.what, this.expectedSize, String(this.seen)));
      return;
    }
    const actual = this.hash.digest('hex');
    if (actual !== digestHex(this.expectedDigest)) {
      cb(
        new FerryError('DIGEST_MISMATCH', `${this.what}: content does not match its digest (expected ${this.expectedDigest}, got sha256:${actual}): the media was altered or damaged; re-copy it at headquarters`, {
          details: { expected: this.expectedDigest, actual: `sha256:${actual}` },
        }),
      );
      return;
    }
    cb();
  }
}

function sizeMismatch(what: string, expected: number, actual: string): FerryError {
  return new FerryError('SIZE_MISMATCH', `${what}: expected ${expected} bytes, got ${actual}: the media was altered or damaged; re-copy it at headquarters`, {
    details: { expected, actual },
  });
}

/** A stream that hashes what flows through (no expectation): read `.digest` after end. */
export class DigestComputer extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private seen = 0;
  private result: string | undefined;

  get bytes(): number {
    return this.seen;
  }

  /** "sha256:<hex>", available once the stream has ended. */
  get digest(): string {
    if (this.result === undefined) throw new FerryError('INTERNAL', 'digest read before the stream ended');
    return this.result;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length;
    this.hash.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    this.result = `sha256:${this.hash.digest('hex')}`;
    cb();
  }
}

/** sha256 digest of bytes held in memory (small JSON documents only). */
export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}
